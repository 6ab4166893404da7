"""A small Spikingformer profile shared by the plot tests (2 blocks of 32 channels, T = 2, float64)."""
import torch

import snnenergy
from snnenergy.models import calibrate_batchnorm


def small_spikingformer_report(weights: str):
    """Profile of a calibrated 2-block, 32-channel Spikingformer on two random CIFAR-sized images."""
    m = snnenergy.create_model("spikingformer-4-384-cifar10", embed_dim=32, depth=2, num_heads=2,
                               time_steps=2).double().eval()
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    calibrate_batchnorm(m, x)
    return snnenergy.profile(m, x, weights=weights)
