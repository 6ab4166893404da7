"""Input sources: shipped sample photographs, generated DVS events, tensor files, image and dataset
folders (ImageNet-style with each model's eval preprocessing), CIFAR python batches, DVS event files, Tonic
datasets, and any iterable/DataLoader, with caps and checks that name what is wrong."""
from .checks import check_input
from .images import IMAGE_EXTENSIONS, NORMALIZATIONS, normalize_images
from .loaders import ImageFolderDataset, as_batches, dataset_folder, image_folder, load_tensor
from .datasets import CifarBatches, EventFiles, ImageFiles, TonicFrames, events_to_frames, read_cifar_batch
from .preprocess import Preprocess, preprocess_for
from .resolve import normalization_for, open_dataset, resolve_input, take
from .sample_data import SAMPLE_NAMES, sample_events, sample_files, sample_images

__all__ = [
    "sample_images", "sample_events", "sample_files", "SAMPLE_NAMES", "load_tensor", "image_folder",
    "dataset_folder", "ImageFolderDataset", "as_batches", "check_input", "resolve_input", "normalization_for",
    "NORMALIZATIONS", "IMAGE_EXTENSIONS", "normalize_images", "open_dataset", "take", "Preprocess", "preprocess_for",
    "ImageFiles", "CifarBatches", "EventFiles", "TonicFrames", "events_to_frames", "read_cifar_batch",
]
