"""Helpers shared by the profiler tests."""
from torch import nn
from torch.overrides import TorchFunctionMode


class Fn(nn.Module):
    """Runs ``fn(self, x)`` as its forward, so a function's ops run inside a module; ``modules`` become children."""

    def __init__(self, fn, **modules):
        super().__init__()
        self.fn = fn
        for k, v in modules.items():
            setattr(self, k, v)

    def forward(self, x):
        return self.fn(self, x)


class NameRecorder(TorchFunctionMode):
    """A torch-function mode that records the name of every torch function it sees, in order (``names``)."""

    def __init__(self):
        super().__init__()
        self.names = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.names.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))
