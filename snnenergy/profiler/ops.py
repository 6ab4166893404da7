"""The op table: which torch functions are synaptic, which cost energy as "other" ops, which are free.

Names are the ``__name__`` of the function a ``TorchFunctionMode`` sees, normalised (in-place ``add_`` and
dunder ``__iadd__``/``__radd__`` map to ``add``). Anything not listed here is reported as unsupported with
its call count: nothing is silently zero.
"""
from __future__ import annotations

SYNAPTIC_CONV = {
    "conv1d": (1, False), "conv2d": (2, False), "conv3d": (3, False),
    "conv_transpose1d": (1, True), "conv_transpose2d": (2, True), "conv_transpose3d": (3, True),
}
SYNAPTIC_MATMUL = {"matmul", "mm", "bmm", "addmm", "baddbmm", "addbmm", "addmv", "linalg_matmul", "mv", "dot"}
SYNAPTIC_OTHER = {"linear", "einsum", "tensordot", "mul", "scaled_dot_product_attention"}
SYNAPTIC = set(SYNAPTIC_CONV) | SYNAPTIC_MATMUL | SYNAPTIC_OTHER

# Non-synaptic ops that cost energy: counted by calls and output elements, attributed to their module.
OTHER = {
    # arithmetic
    "add", "sub", "rsub", "div", "true_divide", "floor_divide", "neg", "abs", "pow", "sqrt", "rsqrt",
    "square", "reciprocal", "exp", "log", "log2", "erf", "sign", "clamp", "clip", "maximum", "minimum",
    "remainder", "fmod", "round", "floor", "ceil", "trunc", "frac", "addcmul", "addcdiv", "lerp",
    "heaviside", "where", "masked_fill", "cumsum",
    # comparisons
    "ge", "gt", "le", "lt", "eq", "ne", "logical_and", "logical_or", "logical_not", "bitwise_and",
    "bitwise_or", "bitwise_not",
    # activations and normalisation
    "relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "hardtanh", "hardswish", "hardsigmoid", "leaky_relu",
    "elu", "softplus", "mish", "softmax", "log_softmax", "batch_norm", "layer_norm", "group_norm",
    "instance_norm", "rms_norm", "normalize",
    # pooling and reductions
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
    "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
    "adaptive_max_pool3d", "mean", "sum", "prod", "amax", "amin", "max", "min", "norm", "var", "std",
    "logsumexp", "interpolate", "upsample", "cross_entropy", "nll_loss", "mse_loss",
}

# Value-preserving or bookkeeping ops: no energy, provenance flows through them.
FREE = {
    "view", "view_as", "reshape", "reshape_as", "flatten", "unflatten", "permute", "transpose", "t", "mT",
    "contiguous", "clone", "detach", "detach_", "squeeze", "unsqueeze", "expand", "expand_as", "repeat",
    "repeat_interleave", "tile", "broadcast_to", "cat", "concat", "concatenate", "stack", "hstack", "vstack",
    "split", "split_with_sizes", "chunk", "tensor_split", "unbind", "narrow", "select", "index_select",
    "gather", "take_along_dim", "flip", "roll", "movedim", "moveaxis", "swapaxes", "swapdims", "diagonal",
    "__getitem__", "__setitem__", "to", "type", "type_as", "float", "double", "half", "bfloat16", "int",
    "long", "bool", "cuda", "cpu", "size", "dim", "ndimension", "numel", "nelement", "__get__", "__len__",
    "__iter__", "__format__", "__repr__", "__hash__", "__bool__", "__index__", "__int__", "__float__", "item",
    "tolist", "numpy", "zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like",
    "zeros", "ones", "empty", "full", "arange", "linspace", "tensor", "as_tensor", "new_zeros", "new_ones",
    "new_empty", "new_full", "new_tensor", "is_floating_point", "is_complex", "is_contiguous", "dropout",
    "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout", "pad", "data_ptr",
    "stride", "storage_offset", "requires_grad_", "fill_", "zero_", "copy_", "element_size", "get_device",
    "__reduce_ex__", "__deepcopy__", "__array__", "__contains__", "__eq__", "__ne__", "_has_compatible_shallow_copy_type",
    "masked_select", "nonzero", "argmax", "argmin", "argsort", "sort", "topk", "unique", "all", "any",
    "isnan", "isinf", "isfinite", "count_nonzero", "allclose", "equal", "one_hot", "embedding_bag",
    "_set_grad_enabled", "is_grad_enabled", "manual_seed", "softmax_backward", "register_hook", "retain_grad",
    "backward", "set_", "share_memory_", "pin_memory", "record_stream", "untyped_storage", "_typed_storage",
    "rand", "randn", "randint", "randperm", "normal_", "uniform_", "bernoulli", "bernoulli_", "multinomial",
    "apply_", "map_", "__setstate__", "__getstate__", "__dlpack__", "__dlpack_device__", "__array_wrap__",
    "meshgrid", "tril", "triu", "eye", "diag", "where_free",
}

_DUNDER = {
    "__add__": "add", "__radd__": "add", "__iadd__": "add", "__sub__": "sub", "__rsub__": "rsub",
    "__isub__": "sub", "__mul__": "mul", "__rmul__": "mul", "__imul__": "mul", "__truediv__": "div",
    "__rtruediv__": "div", "__itruediv__": "div", "__div__": "div", "__rdiv__": "div", "__idiv__": "div",
    "__floordiv__": "floor_divide", "__rfloordiv__": "floor_divide", "__matmul__": "matmul",
    "__rmatmul__": "rmatmul", "__neg__": "neg", "__abs__": "abs", "__pow__": "pow", "__rpow__": "pow",
    "__ipow__": "pow", "__and__": "bitwise_and", "__or__": "bitwise_or", "__invert__": "bitwise_not",
    "__ge__": "ge", "__gt__": "gt", "__le__": "le", "__lt__": "lt", "__mod__": "remainder",
    "multiply": "mul", "subtract": "sub", "divide": "div", "absolute": "abs", "greater_equal": "ge",
    "greater": "gt", "less_equal": "le", "less": "lt", "not_equal": "ne", "clamp_min": "clamp",
    "clamp_max": "clamp", "sigmoid_": "sigmoid",
}


def normalise_name(raw: str) -> str:
    """Canonical op name: dunder and alias names mapped, trailing in-place underscore removed."""
    name = _DUNDER.get(raw)
    if name is not None:
        return name
    if raw.endswith("_") and not raw.startswith("_"):
        base = raw[:-1]
        return _DUNDER.get(base, base)
    return raw


# in-place spellings of free ops ("fill_", "copy_") are looked up by their normalised names
FREE |= {normalise_name(n) for n in FREE if n.endswith("_")}


def category(name: str) -> str:
    """``'synaptic'``, ``'other'``, ``'free'`` or ``'unsupported'`` for a normalised op name."""
    if name in SYNAPTIC or name == "rmatmul":
        return "synaptic"
    if name in OTHER:
        return "other"
    if name in FREE:
        return "free"
    return "unsupported"
