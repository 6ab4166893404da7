"""How the report names its inputs (``prepare.describe_input``)."""
from snnenergy.prepare import describe_input


def test_one_sample_is_not_samples():
    assert describe_input(__file__, None, 1).endswith("(1 sample)")
    assert describe_input(__file__, None, 3).endswith("(3 samples)")


def _images(folder, n):
    from PIL import Image
    folder.mkdir()
    for i in range(n):
        Image.new("RGB", (40, 36), (30 * i % 256, 90, 200 - 5 * i)).save(folder / f"{i:02d}.png")
    return folder


def _bn_state(model):
    import torch
    return [b.clone() for n, b in model.named_buffers() if "running" in n] or [torch.zeros(0)]


def test_batchnorm_calibration_does_not_depend_on_the_batch_size(tmp_path):
    import torch
    from snnenergy.prepare import prepare
    folder = _images(tmp_path / "val", 8)
    runs = {bs: prepare(model_name="snn-cnn-residual", input_spec=str(folder), batch_size=bs) for bs in (8, 4, 3)}
    states = {bs: _bn_state(p.model) for bs, p in runs.items()}
    for bs in (4, 3):
        assert all(torch.equal(a, b) for a, b in zip(states[8], states[bs]))
    assert "calibrated on folder" in runs[3].weights and "first" not in runs[3].weights


def test_batchnorm_calibration_uses_the_first_samples_of_a_large_dataset(tmp_path):
    from snnenergy.prepare import CALIBRATION_SAMPLES, prepare
    folder = _images(tmp_path / "val", CALIBRATION_SAMPLES + 3)
    p = prepare(model_name="snn-cnn-residual", input_spec=str(folder), batch_size=5)
    assert f"calibrated on the first {CALIBRATION_SAMPLES} samples of folder" in p.weights
