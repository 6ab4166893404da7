"""Spike-driven audit: is every synaptic op driven by binary spikes, and if not, which op made the values,
how much energy is at stake and what would fix it.

``snnenergy.audit(model, inputs)`` profiles and audits; ``report.audit()`` audits a profile. The package itself
is callable (``snnenergy.audit(...)``), so the function and the subpackage share one name without shadowing.

Rules (decided from the op records and the provenance graph only, never from module names or classes):

* violations: integer activations into a weighted op (cause: the op that made them, usually an add of spike
  tensors, found through max pooling and shape-only ops); real activations into a weighted op after the
  encoder (cause: the join or non-linear op that made them); products of two activations with no spike side;
  softmax, exp, division, normalisation, sigmoid... on the activation path;
* accepted exceptions, listed with reason and cost: the encoder; foldable linear chains from one spike tensor
  (no join; a scale or BatchNorm on the chain only where it folds into a weighted op next to it, i.e. by a
  scalar or per feature of that op: a gate per position or token, over which the op shares its weights, is a
  violation caused by the scale); a mean or sum of spikes into a linear op; the pooled classifier head of a
  non-spike stream; a scalar scale into a neuron (folds into its threshold);
* allowed and listed: integer x spike and real x spike products (accumulations), ternary spikes.

Levels: ``not spike-driven`` (any violation), ``spike-driven with exceptions`` (an exception on a synaptic op
other than the encoder), ``spike-driven``.
"""
from __future__ import annotations

import sys
import types

from .api import audit, audit_report
from .graph import ProvenanceGraph
from .verdict import LEVELS, Audit

__all__ = ["audit", "audit_report", "Audit", "LEVELS", "ProvenanceGraph"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs) -> Audit:
        return audit(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
