"""The layer columns other packages read (weight_params, input/output elements, value-weighted ops) and the
provenance edge table, each against a figure computed here without the profiler."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from profiler_testing import Fn

from snnenergy import profile
from snnenergy.neurons import LIF


def _integer_input(*shape, seed=0, low=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(low, 4, shape, generator=g).double()
    x[..., 0] = 0  # some zeros in every row
    return x


def test_linear_columns_on_integer_input():
    lin = nn.Linear(5, 3).double()
    x = _integer_input(4, 5, low=-3)  # signed: value-weighted ops use the magnitudes
    row = profile(lin, x, time_steps=1).layers.iloc[0]
    B = x.shape[0]
    assert row.input_kind == "integer"
    assert row.weight_params == 15
    assert row.input_elements == 5 and row.output_elements == 3
    assert row.value_weighted_ops == x.abs().sum().item() * 3 / B
    assert row.effective_ops == (x != 0).sum().item() * 3 / B


def test_conv_value_weighted_ops_from_unfolded_magnitudes():
    conv = nn.Conv2d(2, 3, 3, padding=1, stride=2, bias=False).double()
    x = _integer_input(2, 2, 5, 5, seed=1)
    row = profile(conv, x, time_steps=1).layers.iloc[0]
    # every (output position, tap, input channel) that reads an input value, weighted by |value|, times C_out
    cols = F.unfold(x.abs(), 3, padding=1, stride=2)
    expected = cols.sum().item() * 3 / 2
    taps = F.unfold((x != 0).double(), 3, padding=1, stride=2).sum().item() * 3 / 2
    assert row.value_weighted_ops == expected
    assert row.effective_ops == taps
    assert row.weight_params == 3 * 2 * 9
    assert row.input_elements == 2 * 25 and row.output_elements == 3 * 9


def test_value_weighted_of_a_half_precision_integer_input_is_exact():
    lin = nn.Linear(6, 2).half()
    x = _integer_input(3, 6, seed=3, low=-3).half()
    row = profile(Fn(lambda self, x: F.linear(x.float(), self.lin.weight.float()) + self.lin(x).float(), lin=lin),
                  x, time_steps=1).layers.set_index("layer").loc["lin"]
    assert row.input_kind == "integer"
    assert row.value_weighted_ops == x.double().abs().sum().item() * 2 / 3


def test_value_weighted_equals_effective_for_spikes():
    conv = nn.Conv2d(1, 2, 3, padding=1).double()
    x = (torch.rand(3, 1, 6, 6, generator=torch.Generator().manual_seed(2)) > 0.5).double()
    row = profile(conv, x, time_steps=1).layers.iloc[0]
    assert row.input_kind == "binary"
    assert row.value_weighted_ops == row.effective_ops > 0


def test_product_of_two_activations_has_no_weight_params():
    m = Fn(lambda self, x: x @ x.transpose(-2, -1))
    row = profile(m, _integer_input(2, 3, 4), time_steps=1).layers.iloc[0]
    assert row.weight_params == 0
    assert row.output_elements == 9 and row.input_elements == 12


def test_provenance_edges_of_a_residual_block():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1).double()
            self.bn = nn.BatchNorm2d(1).double()
            self.lif = LIF()
            self.fc = nn.Linear(16, 2).double()

        def forward(self, x):
            s = self.lif(self.bn(self.conv(x)))
            y = s + x  # joins the spikes and the input
            return self.fc(y.flatten(1))

    r = profile(Block(), torch.rand(2, 1, 4, 4, dtype=torch.float64), time_steps=1)
    edges = {(row.node, row.input) for row in r.provenance.itertuples()}
    assert edges == {
        ("<input>", ""), ("conv:conv2d", "<input>"), ("bn:batch_norm", "conv:conv2d"),
        ("lif:spikes", "bn:batch_norm"), ("add", "lif:spikes"), ("add", "<input>"), ("fc:linear", "add"),
    }
    nodes = r.provenance.drop_duplicates("node").set_index("node")
    assert nodes.loc["lif:spikes", "category"] == "neuron" and nodes.loc["lif:spikes", "layer"] == "lif"
    assert nodes.loc["fc:linear", "op"] == "linear" and nodes.loc["fc:linear", "category"] == "synaptic"
    assert nodes.loc["add", "category"] == "other" and nodes.loc["<input>", "category"] == "input"
    # the layers table names the same producers
    assert set(r.layers.producer) <= set(r.provenance.node)


def test_a_new_tensor_that_gets_a_dropped_buffers_id_is_not_a_weight():
    """Weights are known by identity, not by id alone: a buffer the forward replaces (snnTorch's ``reset_mem``)
    is freed, and CPython hands its id to the next tensor made, an activation."""
    from snnenergy.profiler.provenance import PARAMETER, UNKNOWN, Provenance

    prov, module = Provenance(), nn.Module()
    module.register_buffer("mem", torch.zeros(3))
    prov.add_weights(module)
    assert prov.producer(module.mem) == PARAMETER
    dropped = id(module.mem)
    del module._buffers["mem"]
    made = [torch.zeros(3) for _ in range(8)]
    reused = [t for t in made if id(t) == dropped]
    if not reused:
        pytest.skip("this Python did not reuse the freed tensor's id")
    assert prov.producer(reused[0]) == UNKNOWN
