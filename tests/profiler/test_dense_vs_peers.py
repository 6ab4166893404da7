"""Dense counts equal fvcore's and torch FlopCounterMode's on ANN models, for the ops both count."""
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from snnenergy import create_model, profile

fvcore = pytest.importorskip("fvcore.nn")


class TinyViTBlock(nn.Module):
    """An ANN attention block with matmuls, linear layers and a conv stem."""

    def __init__(self, d=32, heads=4):
        super().__init__()
        self.stem = nn.Conv2d(3, d, 4, stride=4)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.fc = nn.Linear(d, 10)
        self.heads = heads

    def forward(self, x):
        t = self.stem(x).flatten(2).transpose(1, 2)  # [B, N, D]
        B, N, D = t.shape
        q, k, v = self.qkv(t).reshape(B, N, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        a = (q @ k.transpose(-2, -1)).softmax(-1)
        y = (a @ v).transpose(1, 2).reshape(B, N, D)
        return self.fc(self.proj(y).mean(1))


def _models():
    yield "vit-block", TinyViTBlock(), torch.randn(2, 3, 16, 16)
    yield "ann-cnn-residual", create_model("snn-cnn-residual", ann=True), torch.randn(2, 3, 32, 32)
    yield "ann-attention-block", create_model("snn-attention-block", ann=True), torch.randn(2, 3, 32, 32)
    yield "grouped", nn.Sequential(nn.Conv2d(4, 8, 3, padding=1, groups=2), nn.ReLU(),
                                   nn.Conv2d(8, 8, 3, stride=2, groups=8)), torch.randn(2, 4, 9, 9)


@pytest.mark.parametrize("name,model,x", list(_models()), ids=lambda v: v if isinstance(v, str) else "")
def test_dense_equals_fvcore_and_flopcounter(name, model, x):
    model.eval()
    report = profile(model, x, time_steps=1)
    ours = report.layers.dense_ops.sum() * x.shape[0]  # per sample -> whole batch
    with torch.no_grad():
        fv = fvcore.FlopCountAnalysis(model, x)
        fv.unsupported_ops_warnings(False)
        fv.uncalled_modules_warnings(False)
        by_op = fv.by_operator()
    fv_synaptic = sum(v for k, v in by_op.items() if k in ("conv", "linear", "matmul", "bmm", "einsum", "addmm"))
    assert ours == fv_synaptic
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(x)
    # FlopCounterMode counts 2 FLOPs per multiply-accumulate
    assert 2 * ours == fc.get_total_flops()


def test_bias_reported_separately_not_in_dense():
    lin = nn.Linear(4, 3)
    r = profile(lin, torch.randn(1, 2, 4), time_steps=1)
    assert r.layers.dense_ops.iloc[0] == 2 * 4 * 3
    assert r.layers.bias_ops.iloc[0] == 2 * 3
