"""Helpers shared by the CLI tests (``from cli_testing import ...``; pytest puts this folder on sys.path)."""

# A --module model that runs an op the profiler does not know (an FFT) before a counted linear layer.
UNCOUNTED_OP_MODEL = (
    "import torch\nfrom torch import nn\nfrom snnenergy.neurons import LIF\n"
    "class M(nn.Module):\n"
    "    def __init__(self):\n"
    "        super().__init__(); self.time_steps = 2; self.fc = nn.Linear(4, 4); self.lif = LIF()\n"
    "    def forward(self, x):\n"
    "        x = torch.fft.fft(x).real\n"
    "        return self.lif(self.fc(x.unsqueeze(0).repeat(2, 1, 1)))\n"
    "def build():\n    return M()\n"
)
