"""``snnenergy reproduce``: regenerate the ``reports/`` folder (tables, plots and ``index.md``) from scratch.

Each artefact is one function of a :class:`Run` (the run's output folder and its caches of dry runs and
profiles) and one entry of :data:`ARTEFACTS`: the files it writes, the command that regenerates it, the sizes
and configurations it uses, and whether it belongs to ``--quick`` (the subset the test suite regenerates and
compares with the committed folder). Every number in a table is labelled by its column or its header line:

* **measured**: counted here, by a profile of an untrained zoo model (seed 0, BatchNorm calibrated on the
  shipped photographs: firing rates and energies are illustrative) or by a dry run (shapes only);
* **replayed**: computed here from published inputs (per-layer firing rates of official logs, SOP totals);
* **published**: copied from a model card (paper, README or log), a reference value, never a result.

Tables hold no timestamps or durations (so that a regeneration reproduces them byte for byte); the timings of
the run go to ``index.md`` and to the console.
"""
from __future__ import annotations

import contextlib
import os
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

FLOAT = "%.6g"  # CSV float format: stable across BLAS builds, enough for every figure here
OUT = "reports/"  # the committed folder: the tables' "Made by" lines name it, wherever a run writes them
CMD = f"snnenergy reproduce --out {OUT}"
UNTRAINED = ("untrained weights (seed 0), BatchNorm calibrated on the shipped photographs: firing rates and "
             "energies are illustrative, not the papers' figures")
# the small models whose measured profiles feed the compare table and the plots (CIFAR-10 sizes, 2 samples)
SMALL_MODELS = ("spikformer-2-384-cifar10", "spikingformer-2-384-cifar10", "sdt-2-256-cifar10")
SMALL_SAMPLES = 2
ONE_MODEL = "spikingformer-2-384-cifar10"  # the model of the convention bars and the firing-rate tables
# ImageNet models measured (untrained, 1 sample at 224x224) for the accuracy-vs-energy plot
IMAGENET_MODELS = ("spikformer-8-384", "spikingformer-8-384", "cml-spikingformer-8-384", "sdt-8-384", "qkformer-10-384")
# shipped rate tables and the convention their figure was computed under
REPLAY_CONVENTION = {"qkformer": "qkformer"}


@dataclass(frozen=True)
class Artefact:
    """One regenerated artefact: ``files`` (relative to the output folder) written by ``build(run)``."""

    name: str
    files: tuple[str, ...]
    build: Callable[["Run"], None]
    quick: bool
    numbers: str  # which numbers it holds: measured / replayed / published
    sizes: str  # the configurations and sizes it uses
    command: str = ""  # its own command, ``{out}`` standing for the output folder

    def how_for(self, out: str) -> str:
        """The command that regenerates this artefact alone into the folder ``out``."""
        return self.command.format(out=out) if self.command else f"{command_for(out)} --only {self.name}"

    @property
    def how(self) -> str:
        """The command that regenerates this artefact alone into ``reports/``."""
        return self.how_for(OUT)


def command_for(out: str | os.PathLike, quick: bool = False) -> str:
    """The ``snnenergy reproduce`` command line that writes the folder ``out`` (quoted for a shell)."""
    import shlex

    return f"snnenergy reproduce --out {shlex.quote(os.fspath(out))}" + (" --quick" if quick else "")


# ------------------------------------------------------------------------------------------------- the run
class Run:
    """One regeneration into ``out``: caches shared by the artefacts (dry runs, profiles)."""

    def __init__(self, out: str | os.PathLike) -> None:
        self.out = os.fspath(out)
        self._dry: dict[str, Any] = {}
        self._profiles: dict[tuple[str, int], Any] = {}
        self.numbers: dict[str, str] = {}  # artefact -> which numbers it holds, where the build decides it

    def path(self, name: str) -> str:
        return os.path.join(self.out, name)

    def write(self, name: str, text: str) -> None:
        from .report import atomic_write

        atomic_write(self.path(name), text)

    def write_table(self, stem: str, table: pd.DataFrame, title: str, lines: list[str], floatfmt: str = ".4g") -> None:
        """``stem.csv`` (every column, :data:`FLOAT`) and ``stem.md`` (a title, the labelling lines, the table)."""
        self.write(f"{stem}.csv", exact_counts(table).to_csv(index=False, float_format=FLOAT))
        md = markdown_table(table, floatfmt)
        self.write(f"{stem}.md", "\n".join([f"# {title}", "", *lines, "", md, ""]))

    def dry_run(self, name: str):
        if name not in self._dry:
            from ..profiler.dry_run import dry_run

            self._dry[name] = dry_run(name)
        return self._dry[name]

    def profile(self, name: str, samples: int):
        """An untrained zoo model (seed 0, BatchNorm calibrated) profiled on ``samples`` shipped inputs."""
        key = (name, samples)
        if key not in self._profiles:
            with one_thread():
                self._profiles[key] = profile_untrained(name, samples)
        return self._profiles[key]


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """One intra-op thread while measuring, restored afterwards: float reductions summed in another order (another
    core count) flip the odd spike sitting at the threshold, and the tables must not depend on the machine."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def exact_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Whole-number float columns (counts with gaps, e.g. parameter counts) as nullable integers, so that the
    CSV float format does not round them."""
    out = table.copy()
    for col in out.columns:
        v = out[col]
        if pd.api.types.is_float_dtype(v):
            x = v.to_numpy(dtype=np.float64)
            finite = x[~np.isnan(x)]
            if finite.size and np.all(np.mod(finite, 1.0) == 0) and np.all(np.abs(finite) < 2 ** 53):
                out[col] = v.astype("Int64")
    return out


def markdown_table(table: pd.DataFrame, floatfmt: str = ".4g") -> str:
    """``table`` as Markdown: whole-number columns as integers, other numbers with ``floatfmt``, NaN as "–"."""
    cells, align = {}, []
    for col in table.columns:
        v = table[col]
        if pd.api.types.is_numeric_dtype(v) and not pd.api.types.is_bool_dtype(v):
            x = v.to_numpy(dtype=np.float64)
            whole = bool(np.all(np.isnan(x) | (np.mod(x, 1.0) == 0)))
            cells[col] = ["–" if np.isnan(f) else (f"{int(f):d}" if whole else format(f, floatfmt)) for f in x]
            align.append("right")
        else:
            cells[col] = ["" if (isinstance(c, float) and np.isnan(c)) else str(c) for c in v]
            align.append("left")
    return pd.DataFrame(cells, columns=table.columns).to_markdown(index=False, colalign=align)


def profile_untrained(name: str, samples: int):
    """Profile ``name`` as ``snnenergy profile --model NAME --limit N`` does: untrained seed-0 weights, BatchNorm
    calibrated on the first ``samples`` shipped inputs, the weights labelled so."""
    from ..api import profile
    from ..prepare import prepare

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prep = prepare(model_name=name, seed=0, limit=samples)
    report = profile(prep.model, prep.batches, time_steps=prep.time_steps, model_name=prep.label,
                     weights=prep.weights)
    report.meta.update(prep.meta, inputs=prep.inputs, params=sum(p.numel() for p in prep.model.parameters()))
    return report


def _made_by(art_name: str) -> str:
    a = ARTEFACTS[art_name]
    return f"Made by `{a.how}` (part of `{CMD}`)."


@contextlib.contextmanager
def _reproducible_svg() -> Iterator[None]:
    """SVGs without the current date and with stable element ids, restored afterwards."""
    import matplotlib

    old = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = "0"
    try:
        with matplotlib.rc_context({"svg.hashsalt": "snnenergy"}):
            yield
    finally:
        if old is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = old


def _save_plot(run: Run, fig, stem: str) -> None:
    from . import plots

    with _reproducible_svg():
        plots.save(fig, run.path(stem))
    fig.clear()


# ------------------------------------------------------------------------------------------ dry-run tables
def params_table(run: Run, models: list[str] | None = None) -> pd.DataFrame:
    """Per zoo model: our parameter count (dry run), the official code's count and the paper's, and the gaps."""
    from ..models import list_models, model_card

    rows = []
    for name in models or list_models():
        card, d = model_card(name), run.dry_run(name)
        official = card.official_params
        paper = card.published.get("params_M")
        rows.append({
            "model": name, "family": card.family, "dataset": card.dataset,
            "params_measured": d.params,
            "official_params_published": official if official is not None else np.nan,
            "params_M_published": float(paper) if isinstance(paper, (int, float)) else np.nan,
            "unused_official": (official - d.params) if official is not None else np.nan,
            "unused_documented": "; ".join(card.unused_keys),
            "vs_paper_pct": 100 * (d.params / 1e6 / paper - 1) if isinstance(paper, (int, float)) else np.nan,
        })
    return pd.DataFrame(rows)


def write_params(run: Run) -> None:
    t = params_table(run)
    lines = [_made_by("params"),
             "`params_measured`: measured, the sum of `model.parameters()` of the zoo model (built on the meta device "
             "by `snnenergy.dry_run(name)`). `official_params_published`: the official code's parameter count, "
             "unused tensors included (model card). `params_M_published`: the paper's figure in millions. "
             "`unused_official` = official - ours: the tensors the official code builds but never uses "
             "(`unused_documented`, skipped when a checkpoint loads). `vs_paper_pct`: ours against the paper, in %."]
    run.write_table("params", t, "Parameter counts: ours vs published", lines)


def dense_ops_table(run: Run, models: list[str] | None = None) -> pd.DataFrame:
    """Per zoo model: dense (nominal, fvcore-style) synaptic ops per sample from a dry run, all time steps."""
    from ..models import list_models, model_card

    rows = []
    for name in models or list_models():
        card, d = model_card(name), run.dry_run(name)
        L = d.layers
        rows.append({
            "model": name, "family": card.family, "dataset": card.dataset,
            "input_shape": "x".join(map(str, card.input_shape)), "time_steps": d.time_steps,
            "dense_ops_G_measured": float(L["dense_ops"].sum()) / 1e9,
            "bias_ops_M_measured": float(L["bias_ops"].sum()) / 1e6,
            "synaptic_sites": len(L), "act_x_act_sites": int((L["other_operand"] != "weight").sum()),
            "neuron_layers": len(d.neurons),
            "neurons_per_step": float(d.neurons["neurons"].sum()) if len(d.neurons) else 0.0,
        })
    return pd.DataFrame(rows)


def write_dense_ops(run: Run) -> None:
    t = dense_ops_table(run)
    lines = [_made_by("dense_ops"),
             "All numbers measured by a dry run (`snnenergy.dry_run(name)`: the forward pass on the meta device, "
             "shapes only, no weights or data), per sample, at each card's input shape and T. `dense_ops_G_measured`: "
             "nominal multiply-accumulates of every synaptic op (conv, linear, products of two activations; taps on "
             "padding included, bias excluded) summed over the time steps; `bias_ops_M_measured`: the bias additions; "
             "`act_x_act_sites`: products of two activations (attention); `neurons_per_step`: neurons of all spiking "
             "layers at one time step."]
    run.write_table("dense_ops", t, "Dense synaptic ops per model (dry run)", lines)


# -------------------------------------------------------------------------------------------------- replays
def _replay_convention(model: str) -> str:
    from ..models import model_card

    return REPLAY_CONVENTION.get(model_card(model).family, "spikingformer")


def replay_table() -> pd.DataFrame:
    """Every shipped rate table replayed under its paper's convention, next to our exact convention on the same
    rates and the logged figure (a published value)."""
    from ..energy.replay import estimate, published_rate_tables
    from ..models import model_card

    rows = []
    for model, table in sorted(published_rate_tables().items()):
        conv = _replay_convention(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                rep, covered = estimate(model, convention=conv), "all sites"
            except ValueError:  # a partial table (e.g. a paper's per-stage rates): its covered sites only
                rep, covered = estimate(model, convention=conv, missing="skip"), "covered sites only"
        card = model_card(model)
        logged = rep.logged_mJ
        rows.append({
            "model": model, "convention": conv, "rates": table.source, "sites": covered,
            "replayed_mJ": rep.mJ, "logged_mJ_published": logged if logged is not None else np.nan,
            "gap_pct": 100 * (rep.mJ / logged - 1) if logged else np.nan,
            "replayed_exact_mJ": rep.exact.mJ,
            "replayed_ac_G": rep.result.totals["ac_ops"] / 1e9, "replayed_mac_G": rep.result.totals["mac_ops"] / 1e9,
            "paper_energy_mJ_published": float(card.published.get("energy_mJ", np.nan)),
        })
    return pd.DataFrame(rows)


def write_replays(run: Run) -> None:
    from ..energy.conventions import convention_table
    from ..energy.replay import replay_sites

    t = replay_table()
    lines = [_made_by("replays") + " One model alone: `snnenergy estimate --model NAME --rates published "
             "--convention CONV`.",
             "`replayed_mJ`: replayed, the paper's convention applied to the published per-layer firing rates "
             "(`rates`) and the zoo model's structure (fp32: 4.6 pJ per MAC, 0.9 pJ per AC). "
             "`logged_mJ_published`: the figure the official energy log printed for the same rates. "
             "`replayed_exact_mJ`: replayed, our exact convention (`snnenergy`) on the same rates. "
             "`paper_energy_mJ_published`: the paper's headline figure (model card). Rows marked *covered sites "
             "only* price only the layers the published table gives rates for: not comparable with the paper's total."]
    run.write_table("replays", t, "Replays of published firing rates vs published energies", lines, ".6g")
    model = "spikingformer-8-512"
    conv = convention_table(replay_sites(model))
    conv.insert(0, "model", model)
    conv = conv.rename(columns={"mJ": "replayed_mJ"})
    lines = [_made_by("replays") + f" One model: `snnenergy estimate --model {model} --all-conventions`.",
             f"Every convention applied to the same published per-layer rates of {model} (its official energy log): "
             "all figures replayed (fp32), `vs_snnenergy` the ratio to our exact convention."]
    run.write_table("conventions_replayed", conv, f"Every paper convention on the published rates of {model}", lines)


# ------------------------------------------------------------------------------------------- published table
def write_published_table(run: Run) -> None:
    from ..energy.conventions.published import write_published

    write_published(run.out)


def write_audit(run: Run) -> None:
    from ..audit.zoo import write_zoo

    with one_thread():
        write_zoo(run.out)


# ------------------------------------------------------------------------------------- measured small models
def small_reports(run: Run) -> dict[str, Any]:
    return {name: run.profile(name, SMALL_SAMPLES) for name in SMALL_MODELS}


def compare_published(table: pd.DataFrame) -> tuple[str, str]:
    """What ``compare.md`` says about published numbers and what the index says the artefact holds, both after
    what the rendered table shows: the published-energy column is left out when no model card has a figure."""
    from .compare import PUBLISHED_LABEL, published_shown

    if published_shown(table):
        return f"Only *{PUBLISHED_LABEL}* is published.", "measured (untrained); published energy as reference"
    return ("No published number is shown: the model cards of these models publish no energy.",
            "measured (untrained)")


def write_compare(run: Run) -> None:
    from . import plots
    from .compare import compare_markdown, compare_models

    reports = small_reports(run)
    table = compare_models(list(reports.values()), level=1)
    run.write("compare.csv", exact_counts(table).to_csv(index=False, float_format=FLOAT))
    title, _, body = compare_markdown(table).partition("\n")
    sentence, run.numbers["compare"] = compare_published(table)
    head = [title, "", _made_by("compare") + " Any models: `snnenergy compare --models a,b,c`.", "",
            f"Every count and energy below is **measured** on {SMALL_SAMPLES} shipped photographs (32x32) with "
            f"{UNTRAINED}. {sentence}"]
    run.write("compare.md", "\n".join(head) + "\n" + body)
    _save_plot(run, plots.snn_ann_qnn({n: r for n, r in reports.items()}, level=1), "snn_ann_qnn")


def write_conventions(run: Run) -> None:
    from ..energy.conventions import convention_table
    from . import plots

    report = run.profile(ONE_MODEL, SMALL_SAMPLES)
    t = convention_table(report)
    t.insert(0, "model", ONE_MODEL)
    t = t.rename(columns={"mJ": "measured_mJ"})
    lines = [_made_by("conventions") + f" One model: `snnenergy profile --model {ONE_MODEL} --convention NAME`.",
             f"Measured: one profile of {ONE_MODEL} ({SMALL_SAMPLES} shipped photographs, {UNTRAINED}) priced "
             f"under every paper convention (fp32); `snnenergy` is our exact counts at energy level "
             f"{plots.CONVENTION_LEVEL} (synaptic ops only: levels 2-3 do not apply to conventions); `vs_snnenergy` "
             "the ratio to it."]
    run.write_table("conventions", t, f"Every paper convention on one measured run of {ONE_MODEL}", lines)
    _save_plot(run, plots.convention_bars(report), "conventions")


def write_rates(run: Run) -> None:
    from . import plots

    report = run.profile(ONE_MODEL, SMALL_SAMPLES)
    run.write("rates_layers.csv", report.rate_table(format="csv", by="layer"))
    run.write("rates_layers.tex", report.rate_table(format="latex", by="layer"))
    run.write("rates_blocks.csv", report.rate_table(format="csv", by="block"))
    run.write("rates_blocks.tex", report.rate_table(format="latex", by="block"))
    lines = [_made_by("rates") + f" One model: `snnenergy profile --model {ONE_MODEL}` then "
             "`report.rate_table(format=\"latex\", by=\"block\")`.",
             f"Measured firing rates (%) of {ONE_MODEL} ({SMALL_SAMPLES} shipped photographs, {UNTRAINED}), in the "
             "papers' formats: per neuron layer and time step ([rates_layers.csv](rates_layers.csv), "
             "[rates_layers.tex](rates_layers.tex)) and per block and role, below "
             "([rates_blocks.csv](rates_blocks.csv), [rates_blocks.tex](rates_blocks.tex)). Heatmap: [rates_heatmap.png](rates_heatmap.png)."]
    block = report.rate_table(by="block")
    run.write("rates.md", "\n".join([f"# Firing rates of {ONE_MODEL}, papers' format", "", *lines, "",
                                     markdown_table(block, ".3g"), ""]))
    _save_plot(run, plots.rate_heatmap(report), "rates_heatmap")


def write_accuracy_energy(run: Run) -> None:
    from . import plots
    from .plots import _measured_points, _published_points

    measured = {n: run.profile(n, 1) for n in IMAGENET_MODELS}
    fig = plots.accuracy_vs_energy(list(measured.values()), level=1, datasets=["imagenet"])
    _save_plot(run, fig, "accuracy_energy")
    ours, skipped = _measured_points(list(measured.values()), "fp32", 1, "snnenergy")
    points = pd.concat([_published_points(), ours], ignore_index=True)
    points = points.rename(columns={"mJ": "energy_mJ", "kind": "energy_is"})
    points["top1_is"] = "published"
    lines = [_made_by("accuracy_energy"),
             "One point per model: `top1` is always the model card's published accuracy. `energy_is` says whether "
             "the energy is published (the paper's figure) or measured here (our exact counts, fp32, level 1, "
             f"{UNTRAINED}; ImageNet models at 224x224 on 1 shipped photograph). `energy_method`: how the energy was "
             "counted; published energies use each paper's own bookkeeping (the family's paper convention, as in "
             "[published.md](published.md), where it is known), so they are not on one scale with each other or "
             "with ours. The plot shows the ImageNet points (the CIFAR cards publish no energy)."] + [
        f"Skipped: {s}" for s in skipped]
    run.write_table("accuracy_energy", points, "Accuracy vs energy across the zoo", lines)


# ------------------------------------------------------------------------------------------------- registry
_DRY = "every zoo model at its card's input shape and T, dry run on the meta device (shapes only)"
_SMALL = f"{', '.join(SMALL_MODELS)}: {SMALL_SAMPLES} shipped photographs at 32x32, T = 4, untrained (seed 0)"
ARTEFACTS: dict[str, Artefact] = {a.name: a for a in (
    Artefact("params", ("params.csv", "params.md"), write_params, True, "measured (dry run) vs published", _DRY),
    Artefact("dense_ops", ("dense_ops.csv", "dense_ops.md"), write_dense_ops, True, "measured (dry run)", _DRY),
    Artefact("compare", ("compare.csv", "compare.md", "snn_ann_qnn.png", "snn_ann_qnn.svg"), write_compare, True,
             "measured (untrained)", _SMALL),  # a build adds the published reference it shows
    Artefact("conventions", ("conventions.csv", "conventions.md", "conventions.png", "conventions.svg"),
             write_conventions, True, "measured (untrained)", f"{ONE_MODEL}, as in compare"),
    Artefact("rates", ("rates.md", "rates_layers.csv", "rates_layers.tex", "rates_blocks.csv", "rates_blocks.tex",
                       "rates_heatmap.png", "rates_heatmap.svg"), write_rates, True, "measured (untrained)",
             f"{ONE_MODEL}, as in compare"),
    Artefact("replays", ("replays.csv", "replays.md", "conventions_replayed.csv", "conventions_replayed.md"),
             write_replays, False, "replayed from published rates vs published",
             "the ImageNet models of the shipped rate tables at 224x224 (structure from one saturated profile)"),
    Artefact("published", ("published.csv", "published.md"), write_published_table, False,
             "published, with replayed figures and evidence", "every model card with a published energy, 224x224",
             command="python -m snnenergy.energy.conventions.published {out}"),
    Artefact("audit", ("audit.csv", "audit.md"), write_audit, False, "measured (untrained); published finding",
             "the audit zoo table: one small configuration per family (CIFAR sizes, 64x64 for ImageNet-only "
             "families), 2 photographs", command="snnenergy audit --all --out {out}"),
    Artefact("accuracy_energy", ("accuracy_energy.csv", "accuracy_energy.md", "accuracy_energy.png",
                                 "accuracy_energy.svg"), write_accuracy_energy, False,
             "published top-1 and energy; measured energy (untrained)",
             f"published points of every card; measured: {', '.join(IMAGENET_MODELS)} on 1 photograph at 224x224"),
)}


# ---------------------------------------------------------------------------------------------------- index
def index_markdown(done: list[tuple[Artefact, float]], quick: bool, out: str | os.PathLike = OUT,
                   numbers: dict[str, str] | None = None) -> str:
    """``index.md``: what each file is, which numbers it holds (``numbers`` by artefact name, as the run found
    them, else the registry's), its sizes, its command and this run's timing; the commands name the folder
    ``out`` that the run wrote."""
    total = sum(s for _, s in done)
    numbers = numbers or {}
    lines = ["# snnenergy reports", "",
             f"Regenerated from scratch by `{command_for(out, quick)}`"
             + (" (a subset: the artefacts marked quick)" if quick else "") + ". Every number is labelled **measured** "
             "(counted here: a profile of an untrained zoo model, or a dry run of its shapes), **replayed** "
             "(computed here from published inputs: per-layer firing rates of official logs, SOP totals) or "
             "**published** (copied from a paper, README or log via the model cards: reference values).", "",
             f"Measured energies come from models with {UNTRAINED}.", "",
             "| artefact | files | numbers | sizes and configurations | command | quick | seconds (this run) |",
             "|---|---|---|---|---|---|---:|"]
    for a, seconds in done:
        files = ", ".join(f"[{f}]({f})" for f in a.files)
        lines.append(f"| {a.name} | {files} | {numbers.get(a.name, a.numbers)} | {a.sizes} | `{a.how_for(out)}` | "
                     f"{'yes' if a.quick else 'no'} | {seconds:.1f} |")
    lines += ["", f"Total: {total:.0f} s ({total / 60:.1f} min) on {os.cpu_count()} CPU core(s). "
              "The full command is sized to finish in under 20 minutes on 2 cores; `--quick` in about a minute.",
              "", "Plots:", ""]
    for a, _ in done:
        lines += [f"![{f}]({f})" for f in a.files if f.endswith(".png")]
    return "\n".join(lines) + "\n"


def select(only: list[str] | None = None, quick: bool = False) -> list[Artefact]:
    """The artefacts to build: ``only`` (names) or every one (``quick``: those marked quick)."""
    if only:
        unknown = [n for n in only if n not in ARTEFACTS]
        if unknown:
            raise ValueError(f"unknown artefact(s) {', '.join(unknown)}; choose from {', '.join(ARTEFACTS)}")
        return [ARTEFACTS[n] for n in only]
    return [a for a in ARTEFACTS.values() if a.quick or not quick]


def reproduce(out: str | os.PathLike = "reports", quick: bool = False, only: list[str] | None = None,
              progress: Callable[[str], None] | None = print) -> list[tuple[str, float]]:
    """Regenerate the artefacts (all, the ``quick`` subset, or ``only`` these names) into ``out`` and write
    ``index.md`` (not for ``only``); returns ``(artefact, seconds)`` for each, printing them through ``progress``."""
    chosen = select(only, quick)
    os.makedirs(out, exist_ok=True)
    run = Run(out)
    done: list[tuple[Artefact, float]] = []
    for a in chosen:
        start = time.perf_counter()
        a.build(run)
        seconds = time.perf_counter() - start
        done.append((a, seconds))
        if progress is not None:
            progress(f"{a.name:<16} {seconds:7.1f} s  {', '.join(a.files)}")
    if not only:  # a partial regeneration keeps the folder's index
        run.write("index.md", index_markdown(done, quick, out=out, numbers=run.numbers))
    return [(a.name, s) for a, s in done]


__all__ = ["ARTEFACTS", "Artefact", "Run", "reproduce", "select", "command_for", "compare_published", "params_table",
           "dense_ops_table", "replay_table", "index_markdown", "profile_untrained"]
