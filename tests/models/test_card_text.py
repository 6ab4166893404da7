"""Model cards as text: published figures with their units, whole on a line, and a card without any."""
import pytest

from snnenergy.models import list_models, model_card
from snnenergy.models.card_text import card_text
from snnenergy.wrapping import wrap


@pytest.mark.parametrize("name", [n for n in list_models() if n.startswith("sdt-")])
def test_cards_fit_and_never_part_a_figure(name):
    for width in (60, 80, 100):
        text = card_text(model_card(name), width)
        assert max(map(len, text.splitlines())) <= width and "\u00a0" not in text
        for line in text.splitlines():
            assert not line.rstrip().endswith(("top-1", "params", "energy")), line  # a label parted from its value
            assert not line.lstrip().startswith(("%", "M;", "mJ")), line  # a unit parted from its number


def test_a_resolution_is_not_shown_as_an_accuracy():
    text = card_text(model_card("sdt-8-768"), 100)
    assert "288 %" not in text and "test resolution 288x288" in text


def test_a_card_without_published_figures_says_so():
    text = " ".join(line.strip() for line in card_text(model_card("sdt-2-256-cifar10"), 100).splitlines())
    assert "not computed by snnenergy) none found (see the source)" in text


def test_wrap_keeps_numbers_with_units_and_no_break_spaces():
    assert wrap("aaaa 12 %", 6) == ["aaaa", "12 %"]
    assert wrap("aaaa b\u00a0c", 6) == ["aaaa", "b c"]
