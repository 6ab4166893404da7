"""Imports every family module so that their configs are registered."""
from . import (  # noqa: F401
    meta_spikeformer,
    ms_resnet,
    psn_nets,
    qkformer,
    reference,
    sdt,
    sew_resnet,
    spikformer,
    spikformer_v2,
    spikingformer,
)
