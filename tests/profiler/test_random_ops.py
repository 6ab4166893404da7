"""Seeded property test: random single-op models, every count equal to the brute-force counter's.

Each case is one synaptic op site (a convolution 1-3d, direct or transposed, a linear layer, a product of
an activation with a weight or with another activation, an einsum, an element-wise mask), built as a module
or as a functional call, called once or twice (weight sharing), on a random input of one kind (binary,
ternary, integer, real) and sparsity, in one dtype, in a plain ``[B, ...]``, a ``[T, B, ...]`` or a folded
``[T·B, ...]`` layout. Its dense, effective, AC, integer-MAC and MAC counts per sample, and per time step where
the layout has steps, must equal :mod:`bruteforce`'s exactly. The cases are generated from fixed seeds, so a
failure is reproduced by its test id.
"""
from __future__ import annotations

import random
import warnings
from dataclasses import dataclass, field
from typing import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import bruteforce as bf
from profiler_testing import Fn

from snnenergy import profile

N_CASES = 300
# PyTorch's own note that 'same' padding with an even kernel copies the input
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
COLUMNS = ("dense_ops", "effective_ops", "ac", "integer_mac", "mac")
KINDS = ("binary", "binary", "ternary", "integer", "real")
SPARSITY = (0.0, 0.15, 0.3, 0.7, 1.0)
FLOATS = (torch.float32, torch.float32, torch.float64, torch.float16, torch.bfloat16)


@dataclass
class Case:
    """A built case: the model, its input, how to profile it, and the op calls it makes (for the counter)."""

    model: nn.Module
    x: torch.Tensor
    layer: str
    T: int
    B: int
    batch_dim: int
    layout: str  # "plain", "steps" (the op sees [T, B, ...]) or "folded" (it sees [T·B, ...])
    # each call: (counter over the activation operands, the activation operands as the op sees them)
    calls: list[tuple[Callable, tuple]] = field(default_factory=list)
    sites: int = 1  # a module called twice is one site; a functional op spelled twice in a forward is two
    weight_numel: int | None = None  # elements of the weight operand (None: a product of two activations)


def _values(g: torch.Generator, shape, kind: str, p: float, dtype: torch.dtype) -> torch.Tensor:
    """A random tensor of ``kind`` with about a fraction ``p`` of nonzeros."""
    mask = torch.rand(shape, generator=g) < p
    if kind == "binary":
        v = torch.ones(shape)
    elif kind == "ternary":
        v = torch.where(torch.rand(shape, generator=g) < 0.5, -1.0, 1.0)
    elif kind == "integer":
        v = torch.randint(1, 4, shape, generator=g).float()
    else:
        v = torch.randn(shape, generator=g)
    x = v * mask
    return (x != 0) if dtype == torch.bool else x.to(dtype)


def _input_dtype(r: random.Random, kind: str) -> tuple[torch.dtype, torch.dtype]:
    """(input dtype, compute dtype): a bool input is cast to float by the model."""
    compute = r.choice(FLOATS)
    if kind == "binary" and r.random() < 0.2:
        return torch.bool, compute
    return compute, compute


def _lead(r: random.Random) -> tuple[str, int, int]:
    """(layout, T, B)."""
    layout = r.choice(("plain", "plain", "steps", "folded"))
    T = 1 if layout == "plain" else r.choice((2, 3))
    return layout, T, r.choice((1, 2, 3))


def _fit(equation: str, a: torch.Tensor) -> str:
    """``equation`` for a time-step slice of its operands: leading (time) letters dropped to fit ``a``'s dims."""
    if "..." in equation:
        return equation
    lhs, out = equation.split("->")
    drop = len(lhs.split(",")[0]) - a.dim()
    if drop <= 0:
        return equation
    lead = lhs[:drop]
    return ",".join(s[drop:] if s.startswith(lead) else s for s in lhs.split(",")) + "->" + out[drop:]


def _step_slice(t: torch.Tensor, layout: str, step: int, B: int) -> torch.Tensor:
    return t[step] if layout == "steps" else t[step * B:(step + 1) * B]


# ------------------------------------------------------------------------------------ case families
def _conv_case(r: random.Random, g: torch.Generator) -> tuple[str, Callable[[], Case]]:
    nd = r.choice((1, 2, 2, 3))
    transposed = r.random() < 0.3
    groups = r.choice((1, 1, 2, 3))
    cin, cout = groups * r.randint(1, 3), groups * r.randint(1, 3)
    kmax = 4 if nd < 3 else 3
    kernel = tuple(r.randint(1, kmax) for _ in range(nd))
    dilation = tuple(r.choice((1, 1, 2, 3)) for _ in range(nd))
    sizes = {1: (3, 12), 2: (3, 8), 3: (2, 5)}[nd]
    spatial = tuple(r.randint(*sizes) for _ in range(nd))
    output_padding = 0
    if transposed:
        stride = tuple(r.choice((1, 2, 3)) for _ in range(nd))
        padding = tuple(r.randint(0, (d * (k - 1)) // 2) for k, d in zip(kernel, dilation))
        output_padding = tuple(r.randint(0, max(s, d) - 1) if r.random() < 0.3 else 0
                               for s, d in zip(stride, dilation))
    else:
        mode = r.choice(("same", "valid", "int", "int", "tuple"))
        stride = (1,) * nd if mode == "same" else tuple(r.choice((1, 2, 3)) for _ in range(nd))
        if mode == "same":
            padding = "same"
        elif mode == "valid":
            padding = "valid"
        elif mode == "int":
            padding = r.randint(0, 2)
        else:
            padding = tuple(r.randint(0, 2) for _ in range(nd))
        pads = bf.conv_pads(padding, kernel, dilation)
        spatial = tuple(max(s, d * (k - 1) + 1 - a - b) for s, k, d, (a, b) in zip(spatial, kernel, dilation, pads))
    functional = r.random() < 0.4
    shared = r.random() < 0.25
    channels_last = nd > 1 and r.random() < 0.25
    kind = r.choice(KINDS)
    p = r.choice(SPARSITY)
    in_dtype, dtype = _input_dtype(r, kind)
    layout, T, B = _lead(r)
    if layout == "steps":
        layout = "folded"  # a conv sees [N, C, ...]: time folds into the batch
    bias = r.random() < 0.5
    name = (f"conv{nd}d{'T' if transposed else ''}-g{groups}-k{kernel}-s{stride}-p{padding}-d{dilation}"
            f"-op{output_padding}-{'F' if functional else 'nn'}{'-shared' if shared else ''}"
            f"{'-cl' if channels_last else ''}-{kind}{p}-{str(in_dtype)[6:]}-{layout}T{T}B{B}")

    def build() -> Case:
        if transposed:
            cls = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)[nd - 1]
            conv = cls(cin, cout, kernel, stride, padding, output_padding, groups, bias, dilation)
        else:
            cls = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[nd - 1]
            conv = cls(cin, cout, kernel, stride, padding, dilation, groups, bias)
        conv = conv.to(dtype)
        fmt = {2: torch.channels_last, 3: torch.channels_last_3d}.get(nd)
        if channels_last:
            conv = conv.to(memory_format=fmt)
        w = conv.weight

        def prep(self, x):
            x = x.to(dtype) if in_dtype == torch.bool else x
            if layout == "folded":
                x = x.flatten(0, 1)
            if channels_last:
                x = x.contiguous(memory_format=fmt)
            return [x, x.flip(-1)] if shared else [x]

        def run(self, x):
            if not functional:
                return [self.conv(a) for a in prep(self, x)]
            f = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d) if transposed else (
                F.conv1d, F.conv2d, F.conv3d)
            if transposed:
                return [f[nd - 1](a, self.w, self.b, stride, padding, output_padding, groups, dilation)
                        for a in prep(self, x)]
            return [f[nd - 1](a, self.w, self.b, stride, padding, dilation, groups) for a in prep(self, x)]

        if functional:
            model = Fn(run)
            model.w = nn.Parameter(w.detach().clone())
            model.b = nn.Parameter(conv.bias.detach().clone()) if bias else None
            layer = ""
        else:
            model, layer = Fn(run, conv=conv), "conv"
        shape = ((T, B) if layout == "folded" else (B,)) + (cin,) + spatial
        x = _values(g, shape, kind, p, in_dtype)
        if transposed:
            def count(a):
                return bf.conv_transpose_counts(a, w, stride, padding, output_padding, groups, dilation)
        else:
            def count(a):
                return bf.conv_counts(a, w, stride, padding, dilation, groups)
        calls = [(count, (a,)) for a in prep(model, x)]
        return Case(model, x, layer, T, B, 1 if layout == "folded" else 0, layout, calls,
                    2 if functional and shared else 1, w.numel())

    return name, build


def _linear_case(r: random.Random, g: torch.Generator) -> tuple[str, Callable[[], Case]]:
    d_in, d_out = r.randint(1, 6), r.randint(1, 5)
    tokens = r.choice((None, None, 2, 3))
    functional = r.random() < 0.4
    shared = r.random() < 0.25
    kind = r.choice(KINDS)
    p = r.choice(SPARSITY)
    in_dtype, dtype = _input_dtype(r, kind)
    layout, T, B = _lead(r)
    bias = r.random() < 0.5
    name = (f"linear-{d_in}x{d_out}-N{tokens}-{'F' if functional else 'nn'}{'-shared' if shared else ''}"
            f"-{kind}{p}-{str(in_dtype)[6:]}-{layout}T{T}B{B}")

    def build() -> Case:
        lin = nn.Linear(d_in, d_out, bias=bias).to(dtype)

        def prep(self, x):
            x = x.to(dtype) if in_dtype == torch.bool else x
            if layout == "folded":
                x = x.flatten(0, 1)
            return [x, x.flip(-1)] if shared else [x]

        def run(self, x):
            if functional:
                return [F.linear(a, self.w, self.b) for a in prep(self, x)]
            return [self.fc(a) for a in prep(self, x)]

        if functional:
            model, layer = Fn(run), ""
            model.w = nn.Parameter(lin.weight.detach().clone())
            model.b = nn.Parameter(lin.bias.detach().clone()) if bias else None
        else:
            model, layer = Fn(run, fc=lin), "fc"
        lead = (T, B) if layout != "plain" else (B,)
        x = _values(g, lead + ((tokens,) if tokens else ()) + (d_in,), kind, p, in_dtype)
        calls = [(lambda a: bf.linear_counts(a, d_out), (a,)) for a in prep(model, x)]
        return Case(model, x, layer, T, B, 1 if layout != "plain" else 0, layout, calls,
                    2 if functional and shared else 1, lin.weight.numel())

    return name, build


def _product_case(r: random.Random, g: torch.Generator) -> tuple[str, Callable[[], Case]]:
    """Products: activation × weight (a parameter, possibly broadcast or 1-d) or activation × activation
    (matmul / @ / bmm / einsum, possibly broadcast over a head dim)."""
    m, k, n, h = r.randint(1, 4), r.randint(1, 5), r.randint(1, 4), r.choice((1, 2, 3))
    spelling = r.choice(("matmul", "@", "bmm", "einsum", "einsum", "w@", "@w", "w@", "@w1d", "einsum-w"))
    broadcast = r.random() < 0.4
    kind_a, kind_b = r.choice(KINDS), r.choice(KINDS)
    p = r.choice(SPARSITY)
    dtype = r.choice(FLOATS)
    layout, T, B = _lead(r)
    shared = spelling in ("@w", "w@") and r.random() < 0.25
    if spelling == "bmm":
        layout, T, broadcast = ("folded", T, False) if layout != "plain" else ("plain", 1, False)
    name = (f"prod-{spelling}-m{m}k{k}n{n}h{h}{'-bcast' if broadcast else ''}{'-shared' if shared else ''}"
            f"-{kind_a}x{kind_b}{p}-{str(dtype)[6:]}-{layout}T{T}B{B}")

    def build() -> Case:
        lead = (T, B) if layout != "plain" else (B,)
        heads = () if spelling == "bmm" else (h,)
        # the input carries A (and B, for two activations) side by side along its last-but-one dim
        a_part = _values(g, lead + heads + (m, k), kind_a, p, dtype)
        b_part = _values(g, lead + heads + (n, k), kind_b, p, dtype)
        x = torch.cat([a_part, b_part], -2)

        def operands(x):
            if layout == "folded":
                x = x.flatten(0, 1)
            a = x[..., :m, :]
            b = x[..., m:, :]
            if broadcast and heads:
                b = b[..., :1, :, :]  # one head for all: B broadcasts over A's head dim
            return a, b.transpose(-1, -2)  # [.., M, K], [.., K, N]

        lead_letters = "tb" if layout == "steps" else "b"
        w = None
        if spelling in ("matmul", "@", "bmm", "einsum"):
            eq = "...mk,...kn->...mn" if broadcast else f"{lead_letters}hmk,{lead_letters}hkn->{lead_letters}hmn"

            def run(self, x):
                a, b = operands(x)
                if spelling == "matmul":
                    return torch.matmul(a, b)
                if spelling == "@":
                    return a @ b
                if spelling == "bmm":
                    return torch.bmm(a, b)
                return torch.einsum(eq, a, b)

            def calls(x):
                a, b = operands(x)
                if spelling == "einsum":
                    return [(lambda a, b: bf.einsum_counts(_fit(eq, a), a, b), (a, b))]
                return [(lambda a, b: bf.product_counts(a, b), (a, b))]
        else:
            # weight products: W [K, N] (or [H, K, N] broadcast over the batch, or [K] 1-d), W @ x: W [N', M]
            if spelling == "@w1d":
                w = torch.randn(k, dtype=dtype)
            elif spelling == "w@":
                w = torch.randn((h, n, m) if broadcast else (n, m), dtype=dtype)
            elif spelling == "einsum-w":
                w = torch.randn(k, n, dtype=dtype)
            else:
                w = torch.randn((h, k, n) if broadcast else (k, n), dtype=dtype)
            eq = f"{lead_letters}hmk,kn->{lead_letters}hmn"

            def act(x):
                a, _ = operands(x)
                if spelling in ("@w", "w@") and broadcast:
                    a = a[..., :1, :, :]  # the activation lacks the head dim the weight has: [.., 1, M, K]
                return a

            def run(self, x):
                a = act(x)
                if spelling == "einsum-w":
                    return torch.einsum(eq, a, self.w)
                if spelling == "w@":
                    return [self.w @ a] + ([self.w @ a.flip(-1)] if shared else [])
                return [a @ self.w] + ([a.flip(-1) @ self.w] if shared else [])

            def calls(x):
                a = act(x)
                acts = [a, a.flip(-1)] if shared else [a]
                if spelling == "einsum-w":
                    return [(lambda a: bf.einsum_counts(_fit(eq, a), a, w, b_weight=True), (a,))]
                if spelling == "w@":
                    return [(lambda a: bf.product_counts(w, a, a_weight=True), (c,)) for c in acts]
                return [(lambda a: bf.product_counts(a, w, b_weight=True), (c,)) for c in acts]
        model = Fn(run)
        if w is not None:
            model.w = nn.Parameter(w)  # shares w's storage: the counter sees the same values
        with torch.no_grad():
            built_calls = calls(x)
        return Case(model, x, "", T, B, 1 if layout != "plain" else 0, layout, built_calls, len(built_calls),
                    w.numel() if w is not None else None)

    return name, build


def _mask_case(r: random.Random, g: torch.Generator) -> tuple[str, Callable[[], Case]]:
    """Element-wise product of two activations (a spike mask times an activation), possibly broadcast."""
    n, c = r.randint(1, 4), r.randint(1, 5)
    shape_b = r.choice(("full", "full", "col", "row", "gate"))
    kind_a, kind_b = r.choice(("binary", "binary", "ternary", "integer")), r.choice(KINDS)
    p = r.choice(SPARSITY)
    in_dtype, dtype = _input_dtype(r, kind_a if kind_b == "binary" else "real")
    layout, T, B = _lead(r)
    name = f"mul-{shape_b}-n{n}c{c}-{kind_a}x{kind_b}{p}-{str(in_dtype)[6:]}-{layout}T{T}B{B}"

    def build() -> Case:
        lead = (T, B) if layout != "plain" else (B,)
        a = _values(g, lead + (n, c), kind_a, p, in_dtype)
        b = _values(g, lead + (n, c), kind_b, p, in_dtype)
        x = torch.stack([a, b], -3)  # [.., 2, N, C]

        def operands(x):
            if layout == "folded":
                x = x.flatten(0, 1)
            a, b = x[..., 0, :, :], x[..., 1, :, :]
            if shape_b == "col":
                b = b[..., :1]
            elif shape_b == "row":
                b = b[..., :1, :]
            elif shape_b == "gate":
                b = b[..., :1, :1]  # one gate value per sample (and step)
            return a, b

        model = Fn(lambda self, x: torch.mul(*operands(x)) if r_spelling else operands(x)[0] * operands(x)[1])
        a_op, b_op = operands(x)
        calls = [(lambda a, b: bf.elementwise_counts(a, b), (a_op, b_op))]
        return Case(model, x, "", T, B, 1 if layout != "plain" else 0, layout, calls)

    r_spelling = r.random() < 0.5
    return name, build


FAMILIES = (_conv_case, _conv_case, _conv_case, _linear_case, _linear_case, _product_case, _product_case,
            _mask_case)


def _seeded(build: Callable[[], Case], seed: int) -> Callable[[], Case]:
    def seeded_build() -> Case:
        torch.manual_seed(seed)  # the layers' initial weights
        return build()

    return seeded_build


def _cases():
    out = []
    for seed in range(N_CASES):
        r = random.Random(seed)
        g = torch.Generator().manual_seed(seed)
        name, build = r.choice(FAMILIES)(r, g)
        out.append(pytest.param(_seeded(build, seed), id=f"{seed}-{name}".replace(" ", "")))
    return out


def _outputs(out) -> list[torch.Tensor]:
    return [t for t in (out if isinstance(out, (list, tuple)) else [out]) if isinstance(t, torch.Tensor)]


def _expected(case: Case) -> tuple[dict, list[dict] | None, dict]:
    """Per-sample counts of the whole site, per step (None where the layout has no steps), and the site's
    element and value-weighted columns (those that apply to the case)."""
    with torch.no_grad():
        total = bf.Count()
        steps = [bf.Count() for _ in range(case.T)] if case.layout != "plain" else None
        for count, acts in case.calls:
            whole = count(*acts)
            total = total + whole
            if steps is None:
                continue
            for t in range(case.T):
                part = count(*(_step_slice(a, case.layout, t, case.B) for a in acts))
                steps[t] = steps[t] + bf.counted(part.dense, part.effective, whole.bucket)  # the call's kind
        extra = {"output_elements": sum(o.numel() for o in _outputs(case.model(case.x))) / case.B}
        if case.weight_numel is not None:
            extra["weight_params"] = case.weight_numel * case.sites
            extra["input_elements"] = sum(a.numel() for _, acts in case.calls for a in acts) / case.B
            if all(bf.kind(a) != "real" for _, acts in case.calls for a in acts) and total.value_weighted is not None:
                extra["value_weighted_ops"] = total.value_weighted_row(case.B)  # an integral sum: exact
    return total.as_row(case.B), [s.as_row(case.B) for s in steps] if steps is not None else None, extra


@pytest.mark.parametrize("build", _cases())
def test_random_single_op_counts_equal_brute_force(build):
    case = build()
    expected, per_step, extra = _expected(case)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = profile(case.model, case.x, time_steps=case.T, batch_dim=case.batch_dim)
        layers = report.layers
    # every case is laid out as declared (time outer, the batch at batch_dim): nothing to warn about
    assert not [str(w.message) for w in caught if "snnenergy" in str(w.message)]
    assert len(layers) == case.sites, layers[["layer", "op", "index"]]
    assert set(layers.layer) == {case.layer}
    assert {c: layers[c].sum() for c in COLUMNS} == expected
    assert {c: layers[c].sum() for c in extra} == extra
    if per_step is not None:
        assert layers.per_step.all()
        steps = report.per_step.groupby("step")[list(COLUMNS)].sum().sort_index()
        got = [{c: s[c] for c in COLUMNS} for _, s in steps.iterrows()]
        assert got == per_step

def test_brute_force_conv_counts_agree_with_an_indicator_convolution():
    """The counter's unfold/scatter counts equal a second computation: the nonzero indicator convolved with an
    all-ones filter (each output then holds the nonzero inputs it reads), summed."""
    r = random.Random(1234)
    g = torch.Generator().manual_seed(1234)
    for _ in range(60):
        nd = r.choice((1, 2, 3))
        groups = r.choice((1, 2))
        cin, cout = groups * r.randint(1, 2), groups * r.randint(1, 2)
        kernel = tuple(r.randint(1, 3) for _ in range(nd))
        dilation = tuple(r.choice((1, 2)) for _ in range(nd))
        stride = tuple(r.choice((1, 2)) for _ in range(nd))
        spatial = tuple(r.randint(4, 6) + d * (k - 1) for k, d in zip(kernel, dilation))
        x = (torch.rand((2, cin) + spatial, generator=g) < 0.4).double()
        ones = torch.ones((cout, cin // groups) + kernel, dtype=torch.float64)
        padding = r.choice(("same", 0, 1)) if stride == (1,) * nd else r.choice((0, 1))
        conv = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
        direct = conv(x, ones, None, stride, padding, dilation, groups)
        c = bf.conv_counts(x, ones, stride, padding, dilation, groups)
        assert c.effective == int(direct.sum())
        assert c.dense == direct.numel() * (cin // groups) * ones[0, 0].numel()
        convt = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[nd - 1]
        tw = torch.ones((cin, cout // groups) + kernel, dtype=torch.float64)
        pad_t = r.randint(0, 1)
        out_pad = tuple(r.randint(0, max(s, d) - 1) for s, d in zip(stride, dilation))
        out = convt(x, tw, None, stride, pad_t, out_pad, groups, dilation)
        ct = bf.conv_transpose_counts(x, tw, stride, pad_t, out_pad, groups, dilation)
        # every output of a transposed conv is the sum of the (input, tap) terms landing on it
        assert ct.effective == int(out.sum())


def test_brute_force_product_counts_agree_with_the_output_of_binary_products():
    """For binary operands the pair count of a product is the sum of its output (every term is 0 or 1), and a
    value-weighted count against all-ones weights is the sum of the output of |x| times ones."""
    g = torch.Generator().manual_seed(99)
    for shapes in [((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (3, 4, 2)), ((4,), (4, 3)), ((3, 4), (4,)), ((5,), (5,))]:
        a = (torch.rand(shapes[0], generator=g) < 0.5).double()
        b = (torch.rand(shapes[1], generator=g) < 0.5).double()
        c = bf.product_counts(a, b)
        assert c.effective == int((a @ b).sum()) and c.dense == (a @ b).numel() * shapes[0][-1]
        x = torch.randint(0, 3, shapes[0], generator=g).double()
        w = torch.randn(shapes[1], generator=g)
        cw = bf.product_counts(x, w, b_weight=True)
        assert cw.value_weighted == float((x @ torch.ones(shapes[1], dtype=torch.float64)).sum())
    a = (torch.rand(2, 3, 4, generator=g) < 0.5).double()
    b = (torch.rand(1, 5, 4, generator=g) < 0.5).double()
    pairs = int(torch.einsum("bmk,bnk->bmn", a, b.expand(2, 5, 4)).sum())
    assert bf.einsum_counts("...mk,...nk->...mn", a, b).effective == pairs
    assert bf.einsum_counts("bmk,kn->bmn", a, b[0].T).effective == int((a @ b[0].T).sum())


def test_brute_force_value_weighted_conv_counts_agree_with_a_convolution_of_magnitudes():
    g = torch.Generator().manual_seed(7)
    x = torch.randint(-2, 3, (2, 2, 6, 5), generator=g).double()
    ones = torch.ones(3, 2, 3, 2, dtype=torch.float64)
    c = bf.conv_counts(x, ones, (2, 1), "valid", (1, 2))
    assert c.value_weighted == float(F.conv2d(x.abs(), ones, None, (2, 1), 0, (1, 2)).sum())
    t = bf.conv_transpose_counts(x, ones.transpose(0, 1), 2, 1, 1)
    assert t.value_weighted == float(F.conv_transpose2d(x.abs(), ones.transpose(0, 1), None, 2, 1, 1).sum())
