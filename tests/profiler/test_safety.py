"""Profiling is harmless to the model: state restored exactly (also after an exception), no device it cannot come
back from, one session per model across threads, and a progress bar that says something.

Expected counts are hand-computed: ``Linear(4, 3)`` on the binary batch ``[[1,0,1,0],[1,1,1,1]]`` has
3 nonzero inputs per sample, so 3 x 3 = 9 ACs and 4 x 3 = 12 dense ops per sample.
"""
import copy
import threading

import pytest
import torch
from click.testing import CliRunner
from torch import nn
from profiler_testing import NameRecorder

from snnenergy import profile
from snnenergy.neurons import LIF
from snnenergy.profiler import state as state_mod

X = torch.tensor([[1.0, 0, 1, 0], [1, 1, 1, 1]])
AC, DENSE = 9.0, 12.0


# ------------------------------------------------------------------ a deep picture of a model's state
def _describe(v):
    if isinstance(v, torch.Tensor):
        return ("tensor", id(v), type(v), v.detach().clone(), v._version, v.requires_grad, v.grad_fn is not None)
    if isinstance(v, dict):
        return ("dict", id(v), list(v.keys()), {k: _describe(u) for k, u in v.items()})
    if isinstance(v, (list, set)):
        return ("seq", id(v), [_describe(u) for u in v])
    if isinstance(v, (int, float, str, bool, type(None))):
        return ("value", v)
    return ("object", id(v))


def snapshot(model):
    return {path: (type(m), {k: _describe(v) for k, v in m.__dict__.items()}) for path, m in model.named_modules()}


def _same(a, b, where):
    assert a[0] == b[0] and a[1] == b[1] if a[0] != "tensor" else a[0] == b[0], where
    if a[0] == "tensor":
        _, ida, ta, va, vera, rga, gfa = a
        _, idb, tb, vb, verb, rgb, gfb = b
        assert ida == idb and ta is tb, f"{where}: a different tensor object"
        assert vera == verb, f"{where}: written in place"
        assert rga == rgb and gfa == gfb, f"{where}: autograd flags changed"
        assert va.dtype == vb.dtype and va.device == vb.device and va.shape == vb.shape, where
        assert torch.equal(va, vb), f"{where}: values changed"
    elif a[0] == "dict":
        assert a[2] == b[2], f"{where}: keys {a[2]} became {b[2]}"
        for k in a[2]:
            _same(a[3][k], b[3][k], f"{where}[{k!r}]")
    elif a[0] == "seq":
        assert len(a[2]) == len(b[2]), where
        for i, (u, w) in enumerate(zip(a[2], b[2])):
            _same(u, w, f"{where}[{i}]")


def assert_untouched(model, snap):
    now = snapshot(model)
    assert list(now) == list(snap)
    for path, (cls, entries) in snap.items():
        cls_now, entries_now = now[path]
        assert cls_now is cls, path
        assert list(entries_now) == list(entries), f"{path}: attributes {list(entries)} became {list(entries_now)}"
        for k in entries:
            _same(entries[k], entries_now[k], f"{path}.{k}")
    for _, m in model.named_modules():
        assert "forward" not in m.__dict__
    assert torch._C._len_torch_function_stack() == 0
    assert not state_mod._CLAIMS


# ------------------------------------------------------------------ models with state
class Stateful(nn.Module):
    """A layer, our LIF with a membrane, a counter buffer written in place, attributes the forward sets."""

    def __init__(self, fail=False):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.lif = LIF()
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self.seen = []
        self.fail = fail

    def forward(self, x):
        self.calls += 1
        self.seen.append(tuple(x.shape))
        self.last_input = x
        s = self.lif(self.fc(x).unsqueeze(0))
        if self.fail:
            raise RuntimeError("boom after the neuron")
        return s


def _warm(model, x):
    """Leave a real (nonzero) state behind, as after a training step."""
    model.train()
    model(x)
    return model


@pytest.mark.parametrize("fail", [False, True])
def test_our_neuron_state_buffers_and_attributes_restored(fail):
    model = Stateful()
    _warm(model, torch.randn(2, 4) * 3)
    assert isinstance(model.lif.v, torch.Tensor) and model.lif.v.abs().sum() > 0
    model.fail = fail
    snap = snapshot(model)
    if fail:
        with pytest.raises(RuntimeError, match="boom"):
            profile(model, X)
    else:
        r = profile(model, X)
        assert r.layers.ac.tolist() == [AC] and r.layers.dense_ops.tolist() == [DENSE]
    assert_untouched(model, snap)
    assert model.training and model.calls.item() == 1 and model.seen == [(2, 4)]


def test_spikingjelly_memories_restored_bit_for_bit():
    from spikingjelly.activation_based import neuron

    model = nn.Sequential(nn.Linear(4, 3), neuron.LIFNode(tau=2.0, step_mode="s"))
    model(torch.randn(2, 4) * 5)  # SpikingJelly's reset() writes its state in place: it must hit a copy
    v = model[1].v
    assert isinstance(v, torch.Tensor) and v.abs().sum() > 0
    snap = snapshot(model)
    r = profile(model, X)
    assert r.layers.ac.tolist() == [AC]
    assert_untouched(model, snap)
    assert model[1].v is v
    with pytest.raises(RuntimeError):
        profile(model, torch.ones(2, 5))  # wrong width: the forward fails
    assert_untouched(model, snap)


def test_spikingjelly_state_reset_in_place_hits_a_copy():
    from spikingjelly.activation_based import base

    class Accumulator(base.MemoryModule):
        """A stateful SpikingJelly layer whose reset value is a tensor: its reset() copies it in place."""

        def __init__(self):
            super().__init__()
            self.register_memory("h", torch.zeros(2, 4))

        def forward(self, x):
            self.h = self.h + x
            return x

    model = nn.Sequential(Accumulator(), nn.Linear(4, 3))
    model[0].h = torch.full((2, 4), 7.0)
    snap = snapshot(model)
    r = profile(model, X)
    assert r.layers.ac.tolist() == [AC]
    assert_untouched(model, snap)
    assert torch.equal(model[0].h, torch.full((2, 4), 7.0))


def test_snntorch_hidden_state_restored():
    import snntorch as snn

    model = nn.Sequential(nn.Linear(4, 3), snn.Leaky(beta=0.5, init_hidden=True))
    model(torch.randn(2, 4) * 5)
    mem = model[1].mem
    assert mem.abs().sum() > 0
    snap = snapshot(model)
    r = profile(model, X)
    assert r.layers.ac.tolist() == [AC]
    assert_untouched(model, snap)
    assert model[1].mem is mem


def test_state_with_autograd_history_is_kept():
    model = Stateful()
    model.lif.v = (torch.ones(2, 3, requires_grad=True) * 0.5)  # a membrane still attached to a graph
    snap = snapshot(model)
    profile(model, X)
    assert_untouched(model, snap)
    assert model.lif.v.grad_fn is not None


def test_batchnorm_statistics_and_train_flags_restored():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), LIF(step_mode="s"))
    model.train()
    snap = snapshot(model)
    profile(model, X)
    assert_untouched(model, snap)


def test_lazy_module_left_uninitialised():
    model = nn.Sequential(nn.LazyLinear(3), LIF(step_mode="s"))
    r = profile(model, X, rates_only=True)  # its parameters are materialised in place on the first call
    assert r.neurons.neurons.tolist() == [3]
    assert type(model[0]) is nn.LazyLinear and type(model[0].weight) is nn.parameter.UninitializedParameter
    assert model(X).shape == (2, 3)  # it still initialises on its first real call


def test_parameter_written_in_place_is_reported():
    class Clamps(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            self.fc.weight.clamp_(-0.1, 0.1)
            return self.fc(x)

    with pytest.warns(RuntimeWarning, match=r"fc\.weight"):
        profile(Clamps(), X)


def test_shared_buffer_gets_one_working_copy():
    a, b = nn.Module(), nn.Module()
    shared = torch.ones(3)
    a.register_buffer("w", shared)
    b.register_buffer("w", shared)

    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = a, b

        def forward(self, x):
            assert self.a.w is self.b.w  # still one tensor while profiling
            self.a.w.add_(1)
            return x * self.b.w

    model = Two()
    snap = snapshot(model)
    profile(model, X[:, :3])
    assert_untouched(model, snap)
    assert torch.equal(shared, torch.ones(3))


# ------------------------------------------------------------------ devices
def _one_line(info):
    msg = str(info.value)
    assert "\n" not in msg, msg
    return msg


def test_meta_device_refused_and_model_kept():
    model = Stateful()
    snap = snapshot(model)
    with pytest.raises(ValueError) as info:
        profile(model, X, device="meta")
    msg = _one_line(info)
    assert "meta" in msg and "dry run" in msg
    assert_untouched(model, snap)
    assert model.fc.weight.device.type == "cpu"
    with pytest.raises(ValueError, match="dry run"):
        profile(model, X, device=torch.device("meta"))


def test_model_on_meta_refused():
    with torch.device("meta"):
        model = nn.Linear(4, 3)
    with pytest.raises(ValueError, match="meta device") as info:
        profile(model, X)
    _one_line(info)


def test_unknown_and_absent_devices():
    with pytest.raises(ValueError, match="unknown device 'gpu0'") as info:
        profile(nn.Linear(4, 3), X, device="gpu0")
    _one_line(info)
    with pytest.raises(TypeError, match="device must be"):
        profile(nn.Linear(4, 3), X, device=True)
    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        with pytest.raises(ValueError, match=f"has {n} CUDA device"):
            profile(nn.Linear(4, 3), X, device=f"cuda:{n}")
    else:
        with pytest.raises(ValueError, match="needs CUDA, which is not available here") as info:
            profile(nn.Linear(4, 3), X, device="cuda")
        _one_line(info)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_profile_gives_the_cpu_model_back():
    model = Stateful()
    _warm(model, torch.randn(2, 4) * 3)
    snap = snapshot(model)
    r = profile(model, X, device="cuda")
    assert r.layers.ac.tolist() == [AC] and r.layers.dense_ops.tolist() == [DENSE]
    assert_untouched(model, snap)
    assert all(p.device.type == "cpu" for p in model.parameters())


@pytest.mark.parametrize("device", ["meta", "cuda", "nodevice"])
def test_cli_device_errors_are_one_line(tmp_path, device):
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    from snnenergy.cli import main

    torch.save(X, tmp_path / "x.pt")
    (tmp_path / "m.py").write_text("from torch import nn\ndef make():\n    return nn.Linear(4, 3)\n")
    res = CliRunner().invoke(main, ["profile", "--module", f"{tmp_path / 'm.py'}:make", "--input",
                                    str(tmp_path / "x.pt"), "--device", device])
    assert res.exit_code != 0
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), res.output
    assert ("dry run" in lines[0]) if device == "meta" else ("CUDA" in lines[0] or "unknown device" in lines[0])


# ------------------------------------------------------------------ threads
class Gate(nn.Module):
    """A forward that waits until the test lets it go (so two profiles overlap for sure)."""

    def __init__(self, entered, release):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.entered, self.release = entered, release

    def forward(self, x):
        self.entered.set()
        assert self.release.wait(20)
        return self.fc(x)


def _in_thread(fn):
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # handed to the test
            out["error"] = e

    t = threading.Thread(target=run)
    t.start()
    return t, out


def test_second_thread_on_the_same_model_is_refused_and_first_is_right():
    entered, release = threading.Event(), threading.Event()
    model = Gate(entered, release)
    snap = snapshot(model)
    t, out = _in_thread(lambda: profile(model, X))
    try:
        assert entered.wait(20)
        with pytest.raises(RuntimeError, match="another thread") as info:
            profile(model, X)
        _one_line(info)
        with pytest.raises(RuntimeError, match="model holding it"):
            profile(model.fc, X)  # a submodule of a model being profiled elsewhere
    finally:
        release.set()
        t.join(30)
    assert "error" not in out, out.get("error")
    r = out["value"]
    assert r.layers.ac.tolist() == [AC] and r.layers.dense_ops.tolist() == [DENSE]
    assert_untouched(model, snap)


def test_copies_profiled_in_two_threads_at_once_are_both_right():
    barrier = threading.Barrier(2, timeout=20)

    class Meet(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            barrier.wait()  # both forwards run at the same time
            return self.fc(x)

    a = Meet()
    b = copy.deepcopy(a)
    (ta, oa), (tb, ob) = _in_thread(lambda: profile(a, X)), _in_thread(lambda: profile(b, X))
    ta.join(30)
    tb.join(30)
    for out in (oa, ob):
        assert "error" not in out, out.get("error")
        assert out["value"].layers.ac.tolist() == [AC] and out["value"].layers.dense_ops.tolist() == [DENSE]
    for m in (a, b):
        assert all("forward" not in s.__dict__ for s in m.modules())
    assert not state_mod._CLAIMS


class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.lif = LIF(step_mode="s")

    def forward(self, x):
        return self.lif(self.fc(x))


class Outer(nn.Module):
    """Its forward may profile its own submodule first (a measurement, not part of its computation)."""

    def __init__(self, nested, reports):
        super().__init__()
        self.inner = Inner()
        self.nested = nested
        self.report_to = reports.append  # (a list attribute would be restored as found, i.e. emptied)

    def forward(self, x):
        if self.nested:
            self.report_to(profile(self.inner, x))
        return self.inner(x) * 2


def test_profile_nested_in_one_thread_is_allowed_and_restores_the_outer_state():
    reports = []
    model = Outer(True, reports)
    snap = snapshot(model)
    outer = profile(model, X)
    assert_untouched(model, snap)
    assert reports[0].layers.ac.tolist() == [AC] and reports[0].layers.dense_ops.tolist() == [DENSE]
    # the inner profile's forward is work the outer forward did (the linear ran twice), its bookkeeping is not
    assert outer.layers.ac.tolist() == [2 * AC]
    assert not state_mod._CLAIMS and torch._C._len_torch_function_stack() == 0


class Scaled(nn.Module):
    """A layer, a buffer and a tensor attribute (all copied by the profile), no neuron."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.register_buffer("scale", torch.full((3,), 2.0))
        self.offset = torch.ones(3)

    def forward(self, x):
        return self.fc(x) * self.scale + self.offset


def test_enclosing_mode_sees_the_forward_and_none_of_the_checks_copies_or_tables():
    model = Scaled()
    with torch.no_grad(), NameRecorder() as plain:
        model(X)
    with NameRecorder() as outer:
        r = profile(model, X, rates_only=True)  # rates only: no interception of its own in the forward
        r.neurons, r.layers, r.other_ops
        assert torch._C._len_torch_function_stack() == 1
    assert outer.names == plain.names, (plain.names, outer.names)
    assert torch._C._len_torch_function_stack() == 0


def test_default_device_context_stays_in_force():
    class Makes(nn.Module):
        def forward(self, x):
            return x + torch.zeros(x.shape[1:]).to(x.device) * 0 + torch.zeros(()).new_ones(()) * 0

    seen = []

    class Where(nn.Module):
        def forward(self, x):
            seen.append(torch.empty(0).device.type)
            return x

    with torch.device("cpu"):
        profile(nn.Sequential(Makes(), Where()), X)
        assert torch._C._len_torch_function_stack() == 1
    assert seen == ["cpu"] and torch._C._len_torch_function_stack() == 0


# ------------------------------------------------------------------ progress
def test_progress_bar_on_stderr(capsys):
    profile(nn.Linear(4, 3), torch.ones(6, 4), batch_size=2, progress=True)
    err = capsys.readouterr().err
    assert "6/6" in err and "sample/s" in err, err
    profile(nn.Linear(4, 3), [torch.ones(2, 4), (torch.ones(3, 4), torch.zeros(3))], progress=True)
    err = capsys.readouterr().err
    assert "5/5" in err and "sample/s" in err, err
    profile(nn.Linear(4, 3), torch.ones(6, 4), batch_size=2)
    assert capsys.readouterr().err == ""
