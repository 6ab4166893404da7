"""Helpers shared by the model-zoo tests (``from zoo_testing import ...``; pytest puts this folder on sys.path)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import torch
from torch import nn

# ------------------------------------------------------------------------------------ official key lists
STATE_DICT_DIR = Path(__file__).resolve().parents[1] / "data" / "state_dicts"
"""The official state-dict key lists (``<config>.json``: keys and shapes of the official model's
``state_dict()``, measured on the official code; sources in that folder's README.md)."""


def key_list_path(file: str) -> Path:
    """``STATE_DICT_DIR / file``, which must exist (the key lists are part of the test data)."""
    path = STATE_DICT_DIR / file
    assert path.is_file(), f"official key list {path} is missing from the test data"
    return path


def random_state_dict(path: Path, *, seed: int = 0, num_batches_tracked: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors with the official keys and shapes of the key list at ``path``: normal values, running
    variances in [0.5, 1.5) and ``num_batches_tracked`` set to the given count."""
    entries = json.loads(path.read_text())["state_dict"]
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in entries:
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(num_batches_tracked)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(shape, generator=gen)
    return state


# ----------------------------------------------------------------------------------------------- models
def n_params(model: nn.Module) -> int:
    """Number of parameter elements (``model.parameters()``, as the official counts)."""
    return sum(p.numel() for p in model.parameters())


def randomize_bn(model: nn.Module, seed: int = 0, var_scale: float = 0.05, var_offset: float = 0.01) -> None:
    """Non-trivial eval-mode BN statistics and affine parameters so that the neuron layers fire at a moderate
    rate; running variances are ``rand * var_scale + var_offset``."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c, dt = m.num_features, m.running_mean.dtype
            m.running_mean.copy_(torch.randn(c, generator=g, dtype=dt) * 0.05)
            m.running_var.copy_(torch.rand(c, generator=g, dtype=dt) * var_scale + var_offset)
            m.weight.data.copy_(torch.rand(c, generator=g, dtype=dt) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=g, dtype=dt) * 0.5)


def record_inputs(model: nn.Module, predicate: Callable[[str, nn.Module], bool]
                  ) -> tuple[dict[str, torch.Tensor], list]:
    """Pre-hooks that keep a copy of the first input of every module for which ``predicate(name, module)``
    holds: (name -> input, filled by the next forward; the hook handles, for the caller to remove)."""
    seen: dict[str, torch.Tensor] = {}
    handles = []
    for name, m in model.named_modules():
        if predicate(name, m):
            handles.append(m.register_forward_pre_hook(
                lambda mod, args, name=name: seen.__setitem__(name, args[0].detach().clone())))
    return seen, handles


# ----------------------------------------------------------------------------------------- references
def lif_ref(x: torch.Tensor, v_th: float = 1.0) -> torch.Tensor:
    """Independent multi-step LIF: tau 2, input decayed, hard reset to 0, fire at >= threshold."""
    v = torch.zeros_like(x[0])
    out = []
    for xt in x:
        h = v + (xt - v) / 2.0
        s = (h >= v_th).to(x.dtype)
        v = h * (1.0 - s)
        out.append(s)
    return torch.stack(out)


def is_binary(t: torch.Tensor) -> bool:
    """Every value is 0 or 1 (spikes)."""
    return bool(((t == 0) | (t == 1)).all())


def is_integral(t: torch.Tensor) -> bool:
    """Every value is a whole number (spikes or spike sums)."""
    return bool(torch.equal(t, t.round()))
