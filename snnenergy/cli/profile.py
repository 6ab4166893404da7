"""``snnenergy profile``: profile a model on inputs and print its per-block counts, rates and energy."""
from __future__ import annotations

import sys
import warnings

import click

from ..energy.conventions import CONVENTIONS
from ..energy.presets import PRESETS
from .common import (DeviceName, ModelName, NamedChoice, PresetName, check_level, check_out_dir, first_line,
                     load_factory, one_line_errors, parse_shape)

# the card's headline published figures shown beside ours (reference values; the card holds the rest)
_PUBLISHED_KEYS = ("energy_mJ", "sops_G", "params_M", "top1", "source")


@click.command()
@click.option("--model", "model_name", type=ModelName(), help="Zoo model name or alias (see `snnenergy models`).")
@click.option("--module", "module_spec", help="Your own model: path/to/file.py:factory (called with no arguments).")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False),
              help="Weights to load (official training checkpoints or a state dict).")
@click.option("--trust-checkpoint", is_flag=True,
              help="Load a checkpoint holding objects other than weights (runs its pickled code: trusted files only).")
@click.option("--input", "input_spec",
              help="A .pt/.npy tensor file, an .npz of events, an image, an image or ImageNet-style val/ folder, "
                   "CIFAR python batches or a folder of DVS samples; default: the shipped sample images.")
@click.option("--input-shape", help="For --module models without a model card: one sample's shape, e.g. 3,32,32 "
                                    "(the shipped photographs are resized to it).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Samples per forward pass.")
@click.option("--time-steps", type=click.IntRange(min=1), default=None, help="T (zoo models are built with it).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the untrained weights.")
@click.option("--preset", type=PresetName(), default="fp32", show_default=True,
              help=f"Energy preset ({', '.join(PRESETS)}; chips price per synaptic event and neuron update) or a "
                   ".toml/.json table.")
@click.option("--level", type=click.Choice(["1", "2", "3"]), default="1", show_default=True,
              help="Energy level: 1 synaptic ops, 2 + neuron updates, 3 + memory access.")
@click.option("--integer-as", type=click.Choice(["mac", "ac", "spikes"]), default="mac", show_default=True,
              help="Price integer (multi-bit) inputs to weight layers as MACs, ACs, or one AC per spike they sum.")
@click.option("--convention", type=NamedChoice(CONVENTIONS, "convention"), default="snnenergy", show_default=True,
              help="Also price the run under a paper's bookkeeping, on the same counts (printed after ours).")
@click.option("--sram-kib", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Level 3: one SRAM of this many KiB for every memory (default: each sized by what it holds).")
@click.option("--dram/--no-dram", default=False, show_default=True,
              help="Level 3: read a site's weights from DRAM when they exceed the SRAM (--sram-kib, else 1 MiB).")
@click.option("--sram-model", type=click.Choice(["packed", "lemaire"]), default="packed", show_default=True,
              help="Level 3: SRAM energy per access: Horowitz's sizes interpolated (packed) or Lemaire et al.'s fit.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Profile at most this many samples.")
@click.option("--batches", "n_batches", type=click.IntRange(min=1), default=None,
              help="Profile at most this many batches (the first ones).")
@click.option("--num-workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Worker processes loading a dataset folder.")
@click.option("--progress/--quiet", "progress", default=None,
              help="Progress bar on stderr (default: on when stderr is a terminal and there is more than one batch).")
@click.option("--dry-run", is_flag=True,
              help="Shapes, parameters and dense ops on the meta device: no data, no real memory.")
@click.option("--assume-rate", type=click.FloatRange(0, 1), default=None,
              help="With --dry-run: one firing rate for every spike tensor (gives ACs and energy).")
@click.option("--rates", "rates_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="With --dry-run: per-layer rates ({layer: rate} JSON, a report.json, or a CSV layer,rate).")
@click.option("--device", type=DeviceName(), default="cpu", show_default=True, help="torch device, e.g. cpu or cuda.")
@click.option("--amp", is_flag=True, help="Run the forward under torch.autocast (float16 on CUDA, bfloat16 on CPU).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write report.json, CSV and Markdown here.")
@click.option("--rates-only", is_flag=True, help="Record firing rates only (fastest).")
@click.option("--detail", is_flag=True, help="Print every synaptic site and every neuron layer.")
@click.option("--calibrate-bn/--no-calibrate", "calibrate_bn", default=None,
              help="Set BatchNorm statistics from the inputs first so an untrained network fires (default: on for "
                   "untrained zoo models, off with --checkpoint).")
@click.option("--fuse", is_flag=True,
              help="Profile the inference-fused model (families with a fuse(), e.g. Meta-SpikeFormer).")
def profile(model_name, module_spec, checkpoint, trust_checkpoint, input_spec, input_shape, batch_size, time_steps,
            seed, preset, level, integer_as, convention, sram_kib, dram, sram_model, limit, n_batches, num_workers, progress,
            dry_run, assume_rate, rates_file, device, amp, out_dir, rates_only, detail, calibrate_bn, fuse) -> None:
    """Profile a model on inputs and print the per-block summary, top sites and energy."""
    if bool(model_name) == bool(module_spec):
        raise click.UsageError("give exactly one of --model NAME or --module FILE.py:FACTORY")
    if not dry_run and (assume_rate is not None or rates_file):
        raise click.UsageError("--assume-rate and --rates price a dry run: add --dry-run (a real run measures rates)")
    shape = parse_shape(input_shape)
    check_out_dir(out_dir)
    check_level(preset, level)
    render = {"preset": preset, "level": int(level), "integer_as": integer_as}
    memory = {"sram_kib": sram_kib, "dram": dram, "sram_model": sram_model}
    if memory != _DEFAULT_MEMORY and int(level) < 3:
        raise click.UsageError("--sram-kib, --dram and --sram-model price memory access: add --level 3")
    hint = "" if model_name or shape or input_spec else " (--input-shape gives the shape of one sample)"
    with one_line_errors(hint):
        if dry_run:
            report = _dry_run_report(model_name, module_spec, shape, time_steps, seed, assume_rate, rates_file, {
                "--checkpoint": checkpoint, "--input": input_spec, "--rates-only": rates_only, "--fuse": fuse,
                "--limit": limit, "--batches": n_batches})
        else:
            report = _profile_report(model_name, module_spec, checkpoint, trust_checkpoint, input_spec, shape,
                                     batch_size, time_steps, seed, calibrate_bn, fuse, limit, n_batches, num_workers,
                                     progress, device, rates_only, amp)
            if report is None:  # another rank of a torchrun launch: rank 0 prints and writes
                return
        from ..report.render import console_text

        text = console_text(report, detail=detail, **render, **memory) + _convention_text(report, convention, preset)
        paths = _save(report, out_dir, render, memory) if out_dir else None
    click.echo(text, nl=False)
    if paths:
        from ..report.render import middle_wrap, terminal_width

        click.echo(middle_wrap("wrote " + ", ".join(paths.values()), terminal_width()))


def _convention_text(report, convention: str, preset: str) -> str:
    """The run priced under a paper's convention (``report.energy(convention=...)``), or "" for ours or when
    there are no op counts to price."""
    from ..report.render import middle_wrap, rates_unknown, terminal_width

    if convention == "snnenergy" or report.meta.get("rates_only") or report.layers.empty or rates_unknown(report):
        return ""
    lines = [f"convention {convention} (a paper's bookkeeping on the same counts):",
             *str(report.energy(convention=convention, preset=preset)).splitlines()]
    return "\n" + "\n".join(middle_wrap(line, terminal_width()) for line in lines) + "\n"


def _show_progress(flag: bool | None, n_batches: int) -> bool:
    """``--progress`` forces the bar, ``--quiet`` hides it; by default it shows on a terminal for > 1 batch."""
    if flag is not None:
        return flag
    return n_batches > 1 and sys.stderr.isatty()


def _profile_report(model_name, module_spec, checkpoint, trust_checkpoint, input_spec, shape, batch_size,
                    time_steps, seed, calibrate_bn, fuse, limit, n_batches, num_workers, progress, device,
                    rates_only, amp=False):
    """The profile of the prepared model on its inputs; under torchrun the merged report on rank 0, None on the
    other ranks."""
    from .. import distributed
    from ..api import profile as run_profile
    from ..prepare import prepare

    env = distributed.distributed_env() if distributed.is_distributed() else None
    rank0 = env is None or env[0] == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prep = prepare(
            model_name=model_name, factory=load_factory(module_spec) if module_spec else None,
            checkpoint=checkpoint, input_spec=input_spec, batch_size=batch_size, time_steps=time_steps,
            calibrate_bn=calibrate_bn, seed=seed, fuse=fuse, input_shape=shape, trust_checkpoint=trust_checkpoint,
            limit=limit, batches=n_batches, num_workers=num_workers,
        )
    for w in caught if rank0 else ():
        click.echo(f"warning: {w.message}", err=True)
    # T was set on the model when it declares one (so the two agree); else it is given here
    kwargs = {"device": device, "rates_only": rates_only, "amp": amp, "model_name": prep.label, "weights": prep.weights,
              "time_steps": prep.time_steps}
    show = _show_progress(progress, len(prep.batches)) and rank0
    if env is not None:
        report = distributed.profile_distributed(prep.model, prep.batches, progress=show, **kwargs)
        if report is None:
            return None
    else:
        report = run_profile(prep.model, prep.batches, progress=show, **kwargs)
    report.meta.update(prep.meta, inputs=prep.inputs, params=sum(p.numel() for p in prep.model.parameters()))
    if prep.card is not None and getattr(prep.card, "published", None):
        report.meta["published"] = {k: v for k, v in prep.card.published.items() if k in _PUBLISHED_KEYS}
    if model_name is not None and not rates_only:
        replay = published_replay(report, prep.card)
        if replay is not None:
            report.meta["replay"] = replay
    return report


def published_replay(report, card) -> dict | None:
    """For a zoo model whose card ships published per-layer firing rates: the energy replayed from them under
    the paper's convention and under our exact rules, from this report's counts (no second profile); the
    reason when the replay cannot be made; None when no rate table ships for the model."""
    from ..energy.conventions.published import FAMILY_CONVENTION
    from ..energy.presets import DEFAULT_PRESET
    from ..energy.replay import estimate, published_rate_tables

    table = published_rate_tables().get(getattr(card, "name", None))
    if table is None:
        return None
    convention = FAMILY_CONVENTION.get(card.family, "snnenergy")
    out = {"convention": convention, "preset": DEFAULT_PRESET, "rates": table.source,
           "label": "replayed from published per-layer firing rates (not measured)"}
    try:
        rep = estimate(report, table, convention=convention, preset=DEFAULT_PRESET)
    except (ValueError, KeyError, TypeError) as e:
        return {**out, "error": first_line(e).split(": ")[0]}
    return {**out, "mJ": rep.mJ, "exact_mJ": rep.exact.mJ, "logged_mJ": rep.logged_mJ}


def _dry_run_report(model_name, module_spec, shape, time_steps, seed, assume_rate, rates_file, ignored):
    """The dry run's assumed counts as a Report (zoo names are built on the meta device; a ``--module``
    model is built by its factory and copied structurally to meta)."""
    given = [k for k, v in ignored.items() if v]
    if given:
        raise click.UsageError(f"--dry-run uses no weights or data: drop {', '.join(given)}")
    from ..profiler.dry_run import dry_run
    from ..prepare import build_model

    if model_name is not None and time_steps is None:
        target = model_name  # built straight on meta: no real memory
    else:
        target, _, _ = build_model(model_name, load_factory(module_spec) if module_spec else None, seed,
                                   time_steps)
    run = dry_run(target, input_shape=shape, assume_rate=assume_rate, rates=rates_file)
    report = run.to_report()
    report.meta["params"] = run.params
    return report


_DEFAULT_MEMORY = {"sram_kib": None, "dram": False, "sram_model": "packed"}


def _save(report, out_dir: str, render: dict, memory: dict) -> dict[str, str]:
    """``report.save`` with the rendering and the level-3 memory model the console used."""
    return report.save(out_dir, **render, **memory)
