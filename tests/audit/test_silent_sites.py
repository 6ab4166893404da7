"""A site whose input was zero everywhere is "binary" for want of any other value: the audit says so in a note
instead of certifying it silently."""
import torch
from torch import nn

from snnenergy.audit import audit
from snnenergy.neurons import LIF


class TwoStage(nn.Module):
    """stem conv -> LIF (threshold ``th``) -> conv, multi-step [T, B, ...]."""

    def __init__(self, th: float) -> None:
        super().__init__()
        self.stem, self.lif, self.conv = nn.Conv2d(3, 4, 3, padding=1), LIF(v_threshold=th), nn.Conv2d(4, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(0).repeat(2, 1, 1, 1, 1)
        y = self.stem(x.flatten(0, 1)).reshape(2, x.shape[1], 4, *x.shape[-2:])
        return self.conv(self.lif(y * 4).flatten(0, 1))


def _audit(th: float):
    torch.manual_seed(0)
    return audit(TwoStage(th), torch.rand(2, 3, 6, 6), time_steps=2)


def test_a_site_that_saw_only_zeros_is_named_in_a_note():
    a = _audit(1e9)  # the LIF never fires: conv sees zeros only
    assert a.spike_driven  # nothing contradicts it ...
    notes = [n for n in a.notes if "saw only zeros" in n]
    assert len(notes) == 1 and "conv:conv2d" in notes[0] and "stem" not in notes[0]  # ... but it is said


def test_no_note_when_every_site_saw_spikes():
    a = _audit(0.05)
    assert not [n for n in a.notes if "saw only zeros" in n]

