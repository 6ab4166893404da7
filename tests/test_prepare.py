"""How the report names its inputs (``prepare.describe_input``)."""
from snnenergy.prepare import describe_input


def test_one_sample_is_not_samples():
    assert describe_input(__file__, None, 1).endswith("(1 sample)")
    assert describe_input(__file__, None, 3).endswith("(3 samples)")
