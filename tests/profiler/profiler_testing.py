"""Helpers shared by the profiler tests."""
from torch import nn


class Fn(nn.Module):
    """Runs ``fn(self, x)`` as its forward, so a function's ops run inside a module; ``modules`` become children."""

    def __init__(self, fn, **modules):
        super().__init__()
        self.fn = fn
        for k, v in modules.items():
            setattr(self, k, v)

    def forward(self, x):
        return self.fn(self, x)
