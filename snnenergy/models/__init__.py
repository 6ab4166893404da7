"""The model zoo: faithful implementations of the SNNs the energy figures are quoted for."""
from .ann import is_spiking_neuron, to_ann
from .calibrate import calibrate_batchnorm
from .checkpoint import CheckpointMismatchError, CheckpointReadError, LoadResult, load_checkpoint, read_checkpoint
from .registry import (
    ModelCard,
    DATASETS,
    canonical_dataset,
    create_model,
    fuse_model,
    fusable_families,
    list_aliases,
    list_models,
    model_card,
    register_alias,
    register_model,
    resolve_name,
)

__all__ = [
    "ModelCard", "create_model", "list_models", "list_aliases", "model_card", "register_model",
    "register_alias", "resolve_name", "load_checkpoint", "LoadResult", "CheckpointMismatchError",
    "to_ann", "is_spiking_neuron", "calibrate_batchnorm", "CheckpointReadError", "read_checkpoint", "fuse_model",
    "fusable_families", "DATASETS", "canonical_dataset",
]
