"""``snnenergy reproduce --quick`` regenerates the committed ``reports/`` tables exactly; its numbers agree with
independent counts (a real build's parameters, torch's FlopCounterMode); bad options fail in one line."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from torch.utils.flop_counter import FlopCounterMode

from snnenergy.cli import main
from snnenergy.report.reproduce import ARTEFACTS, index_markdown, select

REPORTS = Path(__file__).resolve().parents[2] / "reports"
TABLE_SUFFIXES = (".csv", ".md", ".tex")


@pytest.fixture(scope="module")
def quick_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    result = CliRunner().invoke(main, ["reproduce", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "total" in result.output
    return out


def _quick_files() -> list[str]:
    return [f for a in select(quick=True) for f in a.files]


def test_quick_tables_equal_the_committed_reports(quick_dir):
    tables = [f for f in _quick_files() if f.endswith(TABLE_SUFFIXES)]
    assert len(tables) >= 10
    stale = [f for f in tables
             if not (REPORTS / f).exists() or (quick_dir / f).read_text() != (REPORTS / f).read_text()]
    assert not stale, f"reports/ is stale for {stale}: run `snnenergy reproduce --out reports/`"


def test_quick_writes_every_declared_file_and_an_index_linking_them(quick_dir):
    for f in _quick_files():
        assert (quick_dir / f).stat().st_size > 0, f
    index = (quick_dir / "index.md").read_text()
    for f in _quick_files():
        assert f"]({f})" in index, f
    assert "--quick" in index and "untrained" in index


def test_committed_folder_holds_every_artefact_and_labels_its_tables():
    for a in ARTEFACTS.values():
        for f in a.files:
            assert (REPORTS / f).exists(), f"reports/{f} missing ({a.how})"
    index = (REPORTS / "index.md").read_text()
    for a in ARTEFACTS.values():
        assert f"`{a.how}`" in index
    for a in select():
        for f in a.files:
            if f.endswith(".md") and a.name not in ("audit", "published"):
                text = (REPORTS / f).read_text().lower()
                assert "made by `" in text, f
                assert any(w in text for w in ("measured", "replayed", "published")), f


def test_params_equal_a_real_build(quick_dir):
    from snnenergy.models import create_model

    table = pd.read_csv(quick_dir / "params.csv").set_index("model")
    for name in ("sdt-2-256-cifar10", "spikingformer-2-384-cifar10"):
        model = create_model(name)  # a real build, not the dry run on meta
        assert table.loc[name, "params_measured"] == sum(p.numel() for p in model.parameters())
    # the one model with documented unused tensors: ours + those tensors = the official count
    row = table.loc["spikingformer-2-384-cifar10"]
    assert row["official_params_published"] - row["params_measured"] == row["unused_official"] > 0


def test_dense_ops_equal_flop_counter_on_a_conv_model(quick_dir):
    from snnenergy.models import create_model, model_card

    name = "snn-cnn-residual"
    table = pd.read_csv(quick_dir / "dense_ops.csv").set_index("model")
    assert table.loc[name, "act_x_act_sites"] == 0  # only convs and linears: FlopCounterMode counts them all
    model = create_model(name).eval()
    dtype = next(model.parameters()).dtype
    x = torch.rand((3, *model_card(name).input_shape), dtype=dtype)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    macs_per_sample = counter.get_total_flops() / 2 / 3
    assert table.loc[name, "dense_ops_G_measured"] == pytest.approx(macs_per_sample / 1e9, rel=1e-5)


def test_unknown_artefact_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(main, ["reproduce", "--only", "params,plots", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown artefact(s) plots; choose from params" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "index.md").exists()


def test_registry_is_consistent():
    files = [f for a in ARTEFACTS.values() for f in a.files]
    assert len(files) == len(set(files)), "two artefacts write the same file"
    assert {a.name for a in select(quick=True)} < set(ARTEFACTS)
    assert {"audit", "published", "replays", "params", "dense_ops"} <= set(ARTEFACTS)
    text = index_markdown([(a, 1.0) for a in select()], quick=False)
    assert text.count("| yes |") == len(select(quick=True))
    assert all(f.endswith((".csv", ".md", ".tex", ".png", ".svg")) for f in files)


def test_index_names_the_command_actually_run(quick_dir):
    index = (quick_dir / "index.md").read_text()
    assert f"Regenerated from scratch by `snnenergy reproduce --out {quick_dir} --quick`" in index
    assert f"`snnenergy reproduce --out {quick_dir} --only compare`" in index
    assert "reports/" not in index  # no command of this index writes the committed folder
    quoted = index_markdown([(a, 1.0) for a in select(quick=True)], quick=True, out="my reports")
    assert "`snnenergy reproduce --out 'my reports' --quick`" in quoted


def _timeless(text: str) -> str:
    text = re.sub(r"\| [\d.]+ \|$", "| s |", text, flags=re.M)
    return re.sub(r"^Total: .*? on ", "Total: on ", text, flags=re.M)


def test_committed_index_is_what_a_full_run_into_reports_writes():
    from snnenergy.report.reproduce import compare_published

    numbers = {"compare": compare_published(pd.read_csv(REPORTS / "compare.csv"))[1]}
    made = index_markdown([(a, 0.0) for a in select()], quick=False, out="reports/", numbers=numbers)
    assert _timeless(made) == _timeless((REPORTS / "index.md").read_text())


def test_compare_speaks_of_published_numbers_only_when_it_shows_them(quick_dir):
    from snnenergy.report.compare import PUBLISHED_LABEL
    from snnenergy.report.reproduce import compare_published

    empty = pd.DataFrame({"published_mJ": [float("nan"), float("nan")]})
    filled = pd.DataFrame({"published_mJ": [float("nan"), 7.73]})
    assert PUBLISHED_LABEL not in compare_published(empty)[0] and "published" not in compare_published(empty)[1]
    assert f"Only *{PUBLISHED_LABEL}* is published." == compare_published(filled)[0]
    assert "published energy as reference" in compare_published(filled)[1]
    text = (quick_dir / "compare.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("| model |"))
    assert (PUBLISHED_LABEL in header) == (f"*{PUBLISHED_LABEL}*" in text)
    index_row = next(line for line in (quick_dir / "index.md").read_text().splitlines() if line.startswith("| compare"))
    assert (PUBLISHED_LABEL in header) == ("published energy as reference" in index_row)


def test_conventions_table_states_its_level(quick_dir):
    assert "our exact counts at energy level 1" in (quick_dir / "conventions.md").read_text()
