"""``snnenergy plot KIND``: the report plots (:mod:`snnenergy.report.plots`) of zoo models or saved reports, as
PNG and SVG."""
from __future__ import annotations

import os

import click

from .common import ChoicesCommand, ModelName, NamedChoice, PresetName, check_level, one_line_errors

KINDS = {
    "rates-heatmap": "firing rate of every neuron layer at every time step",
    "rates-bars": "mean firing rate per neuron layer",
    "energy-layers": "energy per layer, stacked by term",
    "energy-groups": "energy per top-level block, stacked by term",
    "snn-ann-qnn": "SNN, ANN and QNN energy of each model",
    "accuracy-energy": "published top-1 against energy, with the measured models",
    "conventions": "one run's energy under every paper convention",
}


def profile_zoo_model(name: str, samples: int, time_steps: int | None, seed: int):
    """Profile an untrained zoo model (BatchNorm calibrated) on ``samples`` of the shipped sample inputs."""
    import torch

    from ..api import profile
    from ..models import calibrate_batchnorm
    from ..prepare import build_model, load_inputs

    model, label, card = build_model(name, None, seed, time_steps)
    model = model.double().eval()
    batches = load_inputs(None, card, samples, time_steps)
    x = torch.cat(batches)[:samples].double()
    n = calibrate_batchnorm(model, x)
    weights = "untrained weights" + (f", BatchNorm calibrated on {len(x)} shipped samples" if n else "")
    return profile(model, x, model_name=label, weights=weights + ": illustrative only")


def _reports(models: str | None, report_files: tuple[str, ...], samples: int, time_steps: int | None, seed: int):
    from ..report import Report

    out = [Report.from_json(p) for p in report_files]
    for name in [m.strip() for m in (models or "").split(",") if m.strip()]:
        click.echo(f"profiling {name} ({samples} samples) ...", err=True)
        out.append(profile_zoo_model(name, samples, time_steps, seed))
    return out


@click.command(cls=ChoicesCommand)
@click.argument("kind", type=NamedChoice([*KINDS, "all"], "plot kind", metavar="KIND",
                                         descriptions={**KINDS, "all": "every kind above"}))
@click.option("--model", "models", type=ModelName(many=True),
              help="Zoo model name(s), comma-separated (several for snn-ann-qnn and accuracy-energy).")
@click.option("--report", "report_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A report.json written by `snnenergy profile --out` (repeatable), instead of profiling.")
@click.option("--out", "out_dir", default="plots", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the PNG and SVG files.")
@click.option("--samples", type=click.IntRange(min=1), default=2, show_default=True,
              help="Shipped sample inputs to profile zoo models on.")
@click.option("--time-steps", type=click.IntRange(min=1), default=None, help="T (zoo models are built with it).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the untrained weights.")
@click.option("--preset", type=PresetName(), default="fp32", show_default=True,
              help="Energy preset or a .toml/.json table.")
@click.option("--level", type=click.Choice(["1", "2", "3"]), default="2", show_default=True,
              help="Energy level for energy-layers and snn-ann-qnn.")
def plot(kind, models, report_files, out_dir, samples, time_steps, seed, preset, level) -> None:
    """Draw KIND (or all kinds) for zoo models (--model) or saved reports (--report); writes KIND.png/.svg."""
    if not models and not report_files and kind != "accuracy-energy":
        raise click.UsageError("give --model NAME[,NAME...] or --report report.json")
    check_level(preset, level)
    from ..report import plots

    with one_line_errors():
        reports = _reports(models, report_files, samples, time_steps, seed)
        written = []
        for k in (KINDS if kind == "all" else (kind,)):
            if k in ("snn-ann-qnn", "accuracy-energy") or len(reports) <= 1:
                written += plots.save(_draw(plots, k, reports, preset, int(level)), os.path.join(out_dir, k))
                continue
            for r in reports:  # one figure per report for the single-report kinds
                stem = f"{k}-{r.meta.get('model', 'model')}"
                written += plots.save(_draw(plots, k, [r], preset, int(level)), os.path.join(out_dir, stem))
    click.echo("wrote " + ", ".join(written))


def _draw(plots, kind: str, reports: list, preset: str, level: int):
    if kind == "snn-ann-qnn":
        return plots.snn_ann_qnn(reports, preset=preset, level=level)
    if kind == "accuracy-energy":
        return plots.accuracy_vs_energy(reports, preset=preset)
    r = reports[0]
    if kind == "energy-layers":
        return plots.energy_by_layer(r, preset=preset, level=level)
    if kind == "energy-groups":
        return plots.energy_by_group(r, by="top", preset=preset, level=level)
    if kind == "conventions":
        return plots.convention_bars(r, preset=preset)
    return plots.PLOTS[kind](r)
