"""Hand-computed counts on small conv / linear / attention cases (every number worked out by hand)."""
import pytest
import torch
from torch import nn

from profiler_testing import Fn

from snnenergy import profile




def _row(report, op=None, layer=None, index=0):
    df = report.layers
    if op is not None:
        df = df[df.op == op]
    if layer is not None:
        df = df[df.layer == layer]
    df = df[df["index"] == index]
    assert len(df) == 1, report.layers
    return df.iloc[0]


def _conv(c_in, c_out, k, **kw):
    conv = nn.Conv2d(c_in, c_out, k, bias=False, **kw)
    nn.init.constant_(conv.weight, 0.5)
    return conv


def test_conv_padding_all_ones_binary():
    # 3x3 input, k=3, pad=1: valid taps per output = corners 4, edges 6, centre 9 -> 4*4 + 4*6 + 9 = 49
    m = _conv(1, 2, 3, padding=1)
    r = profile(m, torch.ones(1, 1, 3, 3), time_steps=1)
    row = _row(r, "conv2d")
    assert row.input_kind == "binary"
    assert row.dense_ops == 81 * 2
    assert row.ac == 49 * 2 and row.mac == 0 and row.integer_mac == 0
    assert row.effective_ops == 98
    assert row.producer == "<input>"


def test_conv_stride_single_spike_positions():
    # 4x4 input, k=3, s=2, p=1 -> 2x2 output; a spike at (0,0) reaches only output (0,0): fan-out 1
    # a spike at (1,1) reaches all 4 outputs; at (3,3) only output (1,1)
    m = _conv(1, 1, 3, stride=2, padding=1)
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = x[0, 0, 3, 3] = 1
    r = profile(m, x, time_steps=1)
    row = _row(r, "conv2d")
    assert row.dense_ops == 4 * 9
    assert row.ac == 1 + 4 + 1
    assert row.input_rate == pytest.approx(3 / 16)


def test_conv_stride_all_ones_boundary_exact():
    # outputs (0,0): 2x2 taps, (0,1): 2x3, (1,0): 3x2, (1,1): 3x3 -> 4 + 6 + 6 + 9 = 25
    m = _conv(1, 1, 3, stride=2, padding=1)
    r = profile(m, torch.ones(1, 1, 4, 4), time_steps=1)
    assert _row(r, "conv2d").ac == 25


def test_grouped_and_depthwise_conv():
    # groups=2, C_in=4, C_out=4, k=1 on 3x3: dense = 9 * 4 * (4/2) = 72; one spike reaches C_out/groups = 2
    m = _conv(4, 4, 1, groups=2)
    x = torch.zeros(1, 4, 3, 3)
    x[0, 1, 1, 1] = 1
    r = profile(m, x, time_steps=1)
    row = _row(r, "conv2d")
    assert row.dense_ops == 72 and row.ac == 2
    # depthwise 3x3 pad 1 on 3x3, 2 channels, all ones: 49 per channel
    dw = _conv(2, 2, 3, padding=1, groups=2)
    r = profile(dw, torch.ones(1, 2, 3, 3), time_steps=1)
    row = _row(r, "conv2d")
    assert row.dense_ops == 2 * 81 and row.ac == 2 * 49


def test_dilated_and_transposed_conv():
    # dilation 2, k=3, pad 2 on 3x3 all ones: output row i reads input rows i-2, i, i+2 -> valid taps per
    # output row 2, 1, 2 (same for columns) -> (2 + 1 + 2)^2 = 25 of the 81 nominal
    m = _conv(1, 1, 3, padding=2, dilation=2)
    r = profile(m, torch.ones(1, 1, 3, 3), time_steps=1)
    assert _row(r, "conv2d").ac == 25 and _row(r, "conv2d").dense_ops == 81
    # transposed k=2 s=2 on 2x2: every input meets 4 weights, none cropped; dense = 4 inputs * 4 * C_out(3)
    t = nn.ConvTranspose2d(1, 3, 2, stride=2, bias=False)
    x = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    r = profile(t, x, time_steps=1)
    row = _row(r, "conv_transpose2d")
    assert row.dense_ops == 4 * 4 * 3 and row.ac == 2 * 4 * 3
    # transposed k=3 s=1 p=1 on 3x3: the adjoint of a same-conv: corner input reaches 4 outputs
    t = nn.ConvTranspose2d(1, 1, 3, stride=1, padding=1, bias=False)
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 0, 0] = 1
    r = profile(t, x, time_steps=1)
    assert _row(r, "conv_transpose2d").ac == 4


def test_conv1d_and_conv3d():
    c1 = nn.Conv1d(1, 1, 3, padding=1, bias=False)
    r = profile(c1, torch.ones(1, 1, 5), time_steps=1)
    assert _row(r, "conv1d").ac == 2 + 3 * 3 + 2
    c3 = nn.Conv3d(1, 1, 3, padding=1, bias=False)
    r = profile(c3, torch.ones(1, 1, 2, 2, 2), time_steps=1)
    # each output of a 2x2x2 volume sees 2*2*2 = 8 valid taps
    assert _row(r, "conv3d").ac == 8 * 8 and _row(r, "conv3d").dense_ops == 8 * 27


def test_linear_binary_integer_real_ternary():
    lin = nn.Linear(3, 2)
    cases = {
        "binary": (torch.tensor([[1.0, 0.0, 1.0]]), "ac", 4),
        "integer": (torch.tensor([[0.0, 2.0, 1.0]]), "integer_mac", 4),
        "real": (torch.tensor([[0.5, 0.0, -1.5]]), "mac", 4),
        "ternary": (torch.tensor([[-1.0, 0.0, 1.0]]), "ac", 4),
    }
    for kind, (x, bucket, expected) in cases.items():
        r = profile(lin, x, time_steps=1)
        row = _row(r, "linear")
        assert row.input_kind == kind
        assert row.dense_ops == 6
        assert row[bucket] == expected
        assert row.ac + row.mac + row.integer_mac == expected
        assert row.bias_ops == 2
    row = _row(profile(lin, cases["integer"][0], time_steps=1), "linear")
    assert (row.input_min, row.input_max) == (0.0, 2.0)


def test_spike_matmul_coincidences():
    a = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    b = torch.tensor([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    m = Fn(lambda self, x: torch.matmul(x, b.clone()))  # b is an activation, not a parameter or buffer
    r = profile(m, a.unsqueeze(0), time_steps=1)  # one sample
    row = _row(r, "matmul")
    # column k of a meets row k of b: 1*2 + 1*1 + 2*1 = 5 coincident pairs; dense 2*3*2
    assert row.dense_ops == 12
    assert row.ac == 5 and row.effective_ops == 5
    assert row.input_kind == "binary" and row.other_operand == "binary"
    # binary x binary: the coincidences equal the sum of the output
    assert (a @ b).sum().item() == 5


def test_integer_scores_times_spikes_and_real_products():
    scores = torch.tensor([[2.0, 0.0], [1.0, 3.0]])
    v = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    m = Fn(lambda self, x: x @ v.clone())
    row = _row(profile(m, scores.unsqueeze(0), time_steps=1), "matmul")
    # nnz(col0 of scores)=2 * nnz(row0 of v)=2 -> 4; col1: 1 * 1 -> 1
    assert row.input_kind == "integer" and row.other_operand == "binary"
    assert row.ac == 5 and row.mac == 0
    real = torch.tensor([[0.5, 0.0], [1.5, -2.0]])
    m = Fn(lambda self, x: x @ real.clone().T)
    row = _row(profile(m, real.unsqueeze(0), time_steps=1), "matmul")
    assert row.input_kind == "real" and row.mac > 0 and row.ac == 0


def test_matmul_with_parameter_is_a_weight_layer():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3, 4))

        def forward(self, x):
            return x @ self.w

    r = profile(M(), torch.tensor([[1.0, 0.0, 1.0]]), time_steps=1)
    row = _row(r, "matmul")
    assert row.other_operand == "weight" and row.ac == 2 * 4 and row.dense_ops == 12


def test_elementwise_spike_mask_and_scalar_scale():
    mask = torch.tensor([1.0, 1.0, 0.0, 1.0])

    m = Fn(lambda self, x: (x * mask.clone()) * 0.5)
    r = profile(m, torch.tensor([[1.0, 0.0, 1.0, 1.0]]), time_steps=1)
    row = _row(r, "mul")
    assert row.dense_ops == 4 and row.ac == 2
    other = r.other_ops
    assert ((other.op == "mul") & (other.elements == 4)).any()  # the scalar scale is an "other" op


def test_einsum_two_operands():
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    m = Fn(lambda self, x: torch.einsum("ij,jk->ik", x[0], b.clone()))
    row = _row(profile(m, a.unsqueeze(0), time_steps=1), "einsum")
    # col0 of a (2 nonzeros) x row0 of b (1) + col1 (1) x row1 (2) = 4; dense 2*2*2
    assert row.dense_ops == 8 and row.ac == 4


def test_time_steps_folded_layout_per_step_counts():
    # [T, B, C, H, W] folded to [T*B, ...]: step 0 has one spike, step 1 has two
    T, B = 2, 1

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.time_steps = T
            self.conv = _conv(1, 1, 1)

        def forward(self, x):
            return self.conv(x.flatten(0, 1))

    x = torch.zeros(T, B, 1, 2, 2)
    x[0, 0, 0, 0, 0] = 1
    x[1, 0, 0, 1, 1] = x[1, 0, 0, 0, 1] = 1
    r = profile(M(), x, batch_dim=1)
    steps = r.per_step.sort_values("step")
    assert list(steps.ac) == [1, 2]
    assert list(steps.dense_ops) == [4, 4]
    row = _row(r, "conv2d")
    assert row.rate_t0 == pytest.approx(0.25) and row.rate_t1 == pytest.approx(0.5)


def test_unsupported_ops_are_listed():
    m = Fn(lambda self, x: torch.fft.fft(x).real)
    r = profile(m, torch.ones(2, 4), time_steps=1)
    assert not r.unsupported.empty
    assert "fft_fft" in set(r.unsupported.op)
