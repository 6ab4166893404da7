"""No host synchronisation inside the forward, checked on CPU.

On CUDA a host sync is any op whose result the host must read (``.item()``, ``bool(t)``, ``int(t)``) or whose
output shape depends on the values (``nonzero``, ``masked_select``, ``unique``); the CUDA test in
``test_amp_and_cuda.py`` turns them into errors with ``torch.cuda.set_sync_debug_mode("error")`` but runs only
where a GPU is present. The same ops dispatch on CPU too, so a ``TorchDispatchMode`` entered inside the
model's forward sees every one of them, the model's and the profiler's alike (the profiler hides its work from
enclosing torch-function modes, not from dispatch modes). This checks that the profiler adds none, per op,
on models that use every kind of synaptic op it handles.
"""
from __future__ import annotations

import collections

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

import snnenergy
from snnenergy.neurons import LIF

# aten ops that need the values on the host (CUDA syncs), by name without the overload
_HOST_READS = {"_local_scalar_dense", "item", "is_nonzero", "equal", "nonzero", "nonzero_static", "masked_select",
               "unique", "_unique", "_unique2", "unique_consecutive", "unique_dim", "repeat_interleave", "allclose"}


class _Recorder(TorchDispatchMode):
    """Every aten op dispatched while it is entered, by name (overload dropped)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: collections.Counter[str] = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))

    def host_reads(self) -> dict[str, int]:
        return {name: n for name, n in self.ops.items() if name in _HOST_READS}


class Watched(nn.Module):
    """Runs ``inner`` with a :class:`_Recorder` entered for the forward only (as the CUDA test sets the sync
    debug mode only there): loading, checking and the final host copy are outside it."""

    def __init__(self, inner: nn.Module, time_steps: int, recorders: list) -> None:
        super().__init__()
        self.inner = inner
        self.time_steps = time_steps
        self._sink = recorders.append  # not a list attribute: the profile restores those as it found them

    def forward(self, x):
        rec = _Recorder()
        self._sink(rec)
        with rec:
            return self.inner(x)


class EveryOp(nn.Module):
    """One model with each synaptic op the profiler handles: conv (and transposed), linear, F.linear of two
    activations, matmul / bmm / einsum / SDPA with a causal mask, an element-wise spike gate,
    nn.MultiheadAttention (a composite seen through), and a spike-sum residual (integer inputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.deconv = nn.ConvTranspose2d(4, 4, 2, stride=2)
        self.lif1, self.lif2, self.lif3, self.lif4 = LIF(), LIF(), LIF(), LIF()
        self.q, self.k, self.v = nn.Linear(16, 16), nn.Linear(16, 16), nn.Linear(16, 16)
        self.mha = nn.MultiheadAttention(16, 2, batch_first=True)
        self.head = nn.Linear(16, 3)

    def forward(self, x):  # x: [T, B, 2, 4, 4]
        T, B = x.shape[:2]
        s = self.lif1(self.conv(x.flatten(0, 1)).reshape(T, B, 4, 4, 4))
        u = self.lif2(self.deconv(s.flatten(0, 1)).reshape(T, B, 4, 8, 8))  # [T, B, 4, 8, 8]
        tok = u.flatten(3).transpose(-1, -2).reshape(T, B, 16, 16)  # 16 tokens of 16 channels
        q, k, v = self.lif3(self.q(tok)), self.lif3(self.k(tok)), self.lif3(self.v(tok))
        scores = F.linear(q, k[0, 0])  # Q·Kᵀ with (one sample's) keys as the "weight"
        attn = scores @ v + torch.einsum("tbnd,tbmd->tbnm", q, k) @ v
        attn = attn + torch.bmm(q.flatten(0, 1), k.flatten(0, 1).mT).reshape(T, B, 16, 16) @ v
        sdpa = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        gate = q[..., :1] * v  # a [.., 1] spike gate times spikes
        residual = self.lif4(attn + sdpa) + gate + q  # spike sums: integer inputs below
        m, _ = self.mha(residual.flatten(0, 1), residual.flatten(0, 1), residual.flatten(0, 1))
        return self.head(m.mean(1)).reshape(T, B, 3).mean(0)


def _profile_watched(inner: nn.Module, x: torch.Tensor, time_steps: int, **kw) -> list[_Recorder]:
    """The recorders of each forward of a profile of ``inner`` on ``x``."""
    recorders: list[_Recorder] = []
    snnenergy.profile(Watched(inner, time_steps, recorders), x, **kw)
    assert recorders, "the forward did not run"
    return recorders


def test_the_recorder_sees_a_host_read_in_the_forward():
    """The check can fail: a forward that reads a value on the host is caught."""

    class Reads(nn.Module):
        def forward(self, x):
            return x * float(x.sum())

    watched = _profile_watched(Reads(), torch.rand(2, 3), 1)
    assert watched[0].host_reads() == {"_local_scalar_dense": 1}


def test_the_recorder_sees_the_profilers_own_work():
    """The profiler's reductions dispatch inside the watched forward (so their absence of host reads means
    something): the nonzero indicators and value ranges it queues are among the recorded ops."""
    torch.manual_seed(0)
    watched = _profile_watched(EveryOp(), torch.rand(2, 2, 2, 4, 4) * 3, 2, batch_dim=1)
    plain = _Recorder()
    with plain, torch.no_grad():
        EveryOp()(torch.rand(2, 2, 2, 4, 4) * 3)
    ops = watched[0].ops
    assert ops["aminmax"] > plain.ops["aminmax"] and ops["ne"] > plain.ops["ne"]


def test_no_host_read_inside_the_forward_on_every_synaptic_op():
    torch.manual_seed(0)
    x = torch.rand(2, 2, 2, 4, 4) * 3
    plain = _Recorder()
    with plain, torch.no_grad():
        EveryOp()(x)
    assert plain.host_reads() == {}, "the model itself must not read values on the host"
    full = _profile_watched(EveryOp(), x, 2, batch_dim=1)
    rates = _profile_watched(EveryOp(), x, 2, batch_dim=1, rates_only=True)
    assert full[0].host_reads() == {}
    assert rates[0].host_reads() == {}


@pytest.mark.parametrize("name", ["snn-attention-block", "snn-cnn-residual", "spikformer-4-384-cifar10",
                                  "sdt-2-256-cifar10", "qkformer-4-384-cifar10"])
def test_no_host_read_inside_the_forward_of_zoo_models(name):
    card = snnenergy.model_card(name)
    model = snnenergy.create_model(name)
    torch.manual_seed(0)
    x = torch.rand(1, *card.input_shape)
    watched = _profile_watched(model, x, card.time_steps)
    assert all(rec.host_reads() == {} for rec in watched)


def test_no_host_read_inside_the_forward_with_spikingjelly_and_snntorch_neurons():
    sj_neuron = pytest.importorskip("spikingjelly.activation_based.neuron")
    snn = pytest.importorskip("snntorch")

    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(6, 8), nn.Linear(8, 4)
            self.sj = sj_neuron.LIFNode(step_mode="m")
            self.rleaky = snn.RLeaky(beta=0.9, linear_features=4, init_hidden=True)

        def forward(self, x):  # [T, B, 6]
            s = self.sj(self.fc1(x))
            self.rleaky.reset_mem()
            return torch.stack([self.rleaky(self.fc2(s[t])) for t in range(x.shape[0])])

    watched = _profile_watched(Mixed(), torch.rand(3, 2, 6) * 2, 3, batch_dim=1)
    assert watched[0].host_reads() == {}
