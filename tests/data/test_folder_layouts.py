"""A dataset folder has one layout: files directly in it, or class sub-folders. A folder with both is refused
(reading either would silently drop the other); an error raised in a DataLoader worker keeps its message."""
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from snnenergy.cli.common import first_line
from snnenergy.data import dataset_folder, image_folder
from snnenergy.data.datasets import ImageFiles
from snnenergy.data.preprocess import Preprocess


def _image(path, size=8):
    Image.new("RGB", (size, size), (120, 30, 200)).save(path)


def test_loose_files_next_to_class_folders_are_refused(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(2):
            _image(tmp_path / cls / f"{i}.png")
    assert len(dataset_folder(tmp_path, size=8).dataset) == 4
    _image(tmp_path / "stray.png")
    mixed = r"holds 1 file\(s\) directly \(e.g. stray.png\) and 4 in class sub-folders"
    with pytest.raises(ValueError, match=mixed):
        image_folder(tmp_path, size=8)  # the flat reader read stray.png alone
    with pytest.raises(ValueError, match=mixed):
        dataset_folder(tmp_path, size=8)  # the class reader ignored it
    with pytest.raises(ValueError, match=mixed):
        ImageFiles(tmp_path, Preprocess((8, 8)))  # the reader of the CLI's --input FOLDER


class _Broken(Dataset):
    def __len__(self) -> int:
        return 2

    def __getitem__(self, i):
        raise ValueError("cannot read image x.png: cannot identify image file")


def test_an_error_in_a_dataloader_worker_keeps_its_message():
    with pytest.raises(Exception) as info:
        next(iter(DataLoader(_Broken(), num_workers=1)))
    assert str(info.value).startswith("Caught ValueError in DataLoader worker")
    assert first_line(info.value) == "in a DataLoader worker: cannot read image x.png: cannot identify image file"
    assert first_line(ValueError("plain\nsecond line")) == "plain"
