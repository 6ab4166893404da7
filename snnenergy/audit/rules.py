"""The spike-driven rules as data: which ops do what to a spike tensor, and the texts of every verdict.

A synaptic op is spike-driven when its activation operand is binary spikes (ternary allowed and flagged).
The audit decides everything else from the op records (kinds and value ranges per synaptic site) and the
provenance graph (which op produced each activation), using only the op *names* below, never a module's
name or class. Op names are those of :mod:`snnenergy.profiler.ops` (normalised torch function names).
"""
from __future__ import annotations

# ---------------------------------------------------------------------------------------- op classes
# Ops that cannot turn binary spikes into non-binary values (a max of spikes is a spike): the walk that looks
# for the op that *made* non-binary values passes through them.
KIND_PRESERVING = frozenset({
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
    "max_pool3d_with_indices", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "amax", "amin", "max", "min", "maximum", "minimum", "relu", "relu6", "hardtanh", "clamp",
    "logical_and", "logical_or", "logical_not", "bitwise_and", "bitwise_or", "heaviside", "ge", "gt", "le", "lt",
    "eq", "ne",
})
# Pooling: a mean or sum over positions/time. Linear, so a weighted op after it can run before it.
POOLING = frozenset({
    "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "mean", "sum",
})
# What the encoder exception lets lie between the raw input and the encoding layer.
ENCODER_PASS = frozenset({"batch_norm"}) | POOLING | KIND_PRESERVING
# Linear (affine) maps of one activation: a chain of them from one spike tensor folds into one op at inference.
# ``add``/``sub``/``mul``/``div`` are linear only with a single activation operand (a constant, bias or scale);
# with two they are joins (see ``JOINS``).
# ``where``/``masked_fill`` with one activation operand select between it and constants (a constant border).
LINEAR_ONE_INPUT = frozenset({"batch_norm", "mul", "div", "true_divide", "add", "sub", "rsub", "neg", "where",
                              "masked_fill"}) | POOLING
JOINS = frozenset({"add", "sub", "rsub"})
# Scales whose constant may vary along a dim (a learned gate, a BatchNorm per channel): they fold into a weighted
# op only along its features (see ``ProvenanceGraph.linear_chain``).
FOLDABLE_SCALES = frozenset({"mul", "div", "true_divide", "batch_norm"})
# Synaptic ops that take a weight: a chain may pass through them (conv -> BN -> conv).
WEIGHTED = frozenset({"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
                      "linear", "matmul", "mm", "bmm", "addmm", "baddbmm", "einsum"})
# Weighted ops that a pooling commutes with cheaply (the classifier head: pool -> Linear).
POOLED_CONSUMERS = frozenset({"linear", "addmm", "mm", "matmul", "conv1d", "conv2d", "conv3d"})
# Non-spike computations on the activation path (each a violation wherever an activation reaches it).
NON_SPIKE_OPS = frozenset({
    "softmax", "log_softmax", "exp", "log", "log2", "sigmoid", "tanh", "gelu", "silu", "softplus", "mish",
    "elu", "hardswish", "hardsigmoid", "erf", "layer_norm", "group_norm", "instance_norm", "rms_norm", "normalize",
    "sqrt", "rsqrt", "reciprocal", "pow", "logsumexp",
})
# Fused ops with a softmax inside (a violation whatever their operands).
FUSED_NON_SPIKE = frozenset({"scaled_dot_product_attention"})
# Divisions are violations when both sides are activations (with one, the divisor is a constant: a scale).
DIVISIONS = frozenset({"div", "true_divide", "floor_divide"})
SCALES = frozenset({"mul", "div", "true_divide"})
SPIKE_KINDS = ("binary", "ternary")
INPUT, UNKNOWN = "<input>", "<unknown>"

# ------------------------------------------------------------------------------------------- rule ids
RULE_INTEGER = "integer-input"
RULE_REAL = "real-input"
RULE_PRODUCT = "non-spike-product"
RULE_OP = "non-spike-op"

EXC_ENCODER = "encoder"
EXC_CHAIN = "foldable-chain"
EXC_POOLED_SPIKES = "pooled-spikes"
EXC_POOLED_HEAD = "pooled-head"
EXC_THRESHOLD_SCALE = "threshold-scale"

NOTE_INTEGER_ACC = "integer-accumulation"
NOTE_REAL_ACC = "real-accumulation"
NOTE_TERNARY = "ternary-spikes"

RULES: dict[str, str] = {
    RULE_INTEGER: "integer (multi-bit) activations into a weighted op: integer MACs, not ACs",
    RULE_REAL: "real activations into a weighted op after the encoder: MACs, not ACs",
    RULE_PRODUCT: "a product of two activations with no spike side: MACs, not ACs",
    RULE_OP: "a non-spike computation (softmax, exp, division, normalisation, sigmoid...) on the activation path",
}
EXCEPTIONS: dict[str, str] = {
    EXC_ENCODER: "the encoding layer: its input is the raw input (through shape-only, BatchNorm or pooling ops)",
    EXC_CHAIN: "one path of linear ops with no join from {source}; it folds into one "
               "op at inference, which then sees the source's values",
    EXC_POOLED_SPIKES: "a mean or sum of spikes into a linear op: the op commutes with the pooling and can run on "
                       "the spikes before it, at AC cost",
    EXC_POOLED_HEAD: "a classifier on the pooled {stream}; the pooling folds into its weights but "
                     "its input is not spikes, so MACs remain (put a spiking neuron before the pool to make them ACs)",
    EXC_THRESHOLD_SCALE: "a scalar scale into a spiking neuron: it folds into the neuron's threshold",
}
NOTES: dict[str, str] = {
    NOTE_INTEGER_ACC: "integer x spike product: integer accumulations (allowed)",
    NOTE_REAL_ACC: "real x spike product: float accumulations (allowed; no multiplications)",
    NOTE_TERNARY: "ternary spikes {-1, 0, 1}: signed accumulations (allowed, flagged)",
}


def fix_for(rule: str, cause_op: str, cause_kind: str) -> str:
    """A fix hint for a violation of ``rule`` whose cause is ``cause_op`` (of node category ``cause_kind``)."""
    if rule == RULE_OP:
        return (f"replace {cause_op} on the activation path by spike operations (e.g. a spiking neuron, or "
                "binary masks and sums as in spike-driven self-attention)")
    if rule == RULE_PRODUCT:
        return "make one operand binary spikes (put a spiking neuron on it) so that the product becomes masks/adds"
    if cause_op in FOLDABLE_SCALES and cause_kind == "other":
        return ("this scale varies along more than the weighted op's input features (per position or token), so "
                "it cannot fold into the shared weights: scale per input channel or by a scalar, or put a "
                "spiking neuron after it")
    if cause_kind == "neuron":
        return ("the neuron emits multi-bit spikes: use a binary neuron, or price the integer inputs as n ACs "
                "(the n-spike view)")
    if cause_op in JOINS:
        if rule == RULE_INTEGER:
            return ("this add sums spike tensors: add membrane potentials before the neuron (MS shortcut) "
                    "instead of spikes after it, or put a spiking neuron after the add")
        return ("this add joins membrane streams: pass the sum through a spiking neuron before the weighted op "
                "(e.g. a LIF on the shortcut input of a downsample conv)")
    if cause_op in POOLING:
        return f"put a spiking neuron after the {cause_op} (or move the weighted op before the pooling)"
    if cause_kind == "unknown":
        return "the values' producer is not known to the profiler: put a spiking neuron before this op"
    return f"put a spiking neuron between the {cause_op} and this op"
