"""Suite-wide settings: one intra-op thread per test process (CI runs two processes on two cores with
pytest-xdist; more threads than cores makes small CPU kernels wait on busy cores)."""
import torch

torch.set_num_threads(1)
