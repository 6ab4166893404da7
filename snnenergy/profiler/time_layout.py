"""Time layouts: how a call maps to time steps.

A multi-step call sees ``[T, B, ...]`` ("steps") or time folded into the batch, ``[T·B, ...]`` ("folded",
time outermost); its counts are queued in T equal parts of dim 0. Any other call is "untimed". Which step
a call's counts go to is decided when its forward pass is over (:func:`resolve_slots`), from the number of
calls the site made in it: a site called m·T times in a forward is a single-step loop (m calls per step, in
call order) when its calls have no time dim or the model's neurons step one at a time; otherwise a timed call is split into its T
parts and an untimed one gets the slot of its index (calls past T share slot T, "no step").
"""
from __future__ import annotations

import warnings

from .accumulators import SiteStats

STEPS, FOLDED, UNTIMED = "steps", "folded", "untimed"


def time_layout(n0: int, lead_shape: tuple[int, ...] | None, T: int, B: int) -> str:
    """The layout of a call whose leading dim is ``n0`` (and leading shape ``lead_shape``)."""
    if n0 % (T * B) == 0:
        # [T·B, ...] or [T·B·N, ...]: time is the outermost factor of the leading dim
        return FOLDED
    if n0 == T and lead_shape is not None and len(lead_shape) > 1 and lead_shape[1] == B:
        return STEPS
    return UNTIMED


def call_layout(session, site: SiteStats, n0: int, lead_shape: tuple[int, ...], force_untimed: bool = False,
                x=None) -> tuple[int, int]:
    """``(parts, index)``: ``parts`` is T when dim 0 splits into time steps, else 1; ``index`` is the call's
    index among the site's calls in this forward (its slot is set by :func:`resolve_slots`). ``x``: the
    activation, checked for batch-outer folding."""
    index = site.call_index(session.forward_id)
    T, B = session.T, session.batch_size
    if force_untimed:
        return 1, index
    layout = time_layout(n0, lead_shape, T, B)
    if layout == UNTIMED:
        return 1, index
    if layout == FOLDED and x is not None and T > 1:
        warn_batch_outer(session, site, x, T, B)
    return T, index


def single_step_neurons(session) -> bool:
    """Whether the model has neurons and each of their calls is one step (no call had a time dim)."""
    return bool(session.neurons) and all(st.untimed_calls == st.calls for st in session.neurons.values())


def resolve_slots(session, pending: list) -> None:
    """Set the time slot of each pending call record and add its host-side numbers (dense ops, elements) to
    that slot. ``pending`` holds ``(record, parts, index, forward id, dense, elements)``; ``record[4]`` is the
    slot field the device-queue fold reads (-1: split into T parts)."""
    T = session.T
    single_step = single_step_neurons(session)
    for record, n, index, fwd, dense, elements in pending:
        st: SiteStats = record[0]
        calls = st.forward_calls.get(fwd, 1)
        per_step, rest = divmod(calls, T)
        # a call with a time-like dim in a model whose neurons step one at a time is a step of the loop too
        if T > 1 and per_step and not rest and (n == 1 or single_step):
            slot = index // per_step
            st.call_ordered = True
        elif n > 1:
            slot = -1
        else:
            slot = index if index < T else T
        record[4] = slot  # a call queued in T parts with a slot: the fold sums its parts into the slot
        if slot < 0:
            per_dense, per_el = dense // T, elements // T
            for t in range(T):
                st.dense[t] += per_dense
                st.elements[t] += per_el
        else:
            st.untimed_calls += 1
            st.dense[slot] += dense
            st.elements[slot] += elements
    pending.clear()


def check_time_steps(session) -> None:
    """Refuse a T that nothing in the model supports: no call had a time dim of T steps and no layer was
    called T times in a forward (``time_steps=10**6`` on a static model)."""
    T = session.T
    if T == 1 or not (session.sites or session.neurons):
        return
    timed = any(st.untimed_calls < st.calls for st in session.sites.values())
    timed |= any(st.untimed_calls < st.calls for st in session.neurons.values())
    timed |= any(lead and lead[0] == T for lead in session.neuron_leads)  # [T, ...] with another batch dim
    looped = any(st.most_calls_in_a_forward() >= T for st in session.sites.values())
    looped |= any(st.calls >= T * max(session.forward_id, 1) for st in session.neurons.values())
    if not (timed or looped):
        raise ValueError(
            f"time_steps={T} but no layer's input has a time dim of {T} steps ([T, B, ...] or [T·B, ...]) and no "
            f"layer runs {T} times per forward; pass the number of steps the model runs (time_steps=1 for a "
            f"static model)")


def warn_batch_outer(session, site: SiteStats, x, T: int, B: int) -> None:
    """Warn (once per site) when a folded call's operand is a ``[B, T, ...]`` tensor flattened batch-outer:
    its rows are then sample-major, and splitting them into T parts would give samples, not steps. With
    B = T the shape alone cannot tell; the model's input itself (not a tensor made from it), whose dim 0 is
    the batch when ``batch_dim`` is 0, can."""
    base = getattr(x, "_base", None)
    if base is None or B == 1 or getattr(site, "_warned_batch_outer", False):
        return
    if B == T and not (session.batch_dim == 0 and session.is_input(base)):
        return  # [T, B, ...] made from a [B, ...] input (a repeat over time) has the same shape
    if base.dim() >= 3 and tuple(base.shape[:2]) == (B, T) and x.shape[0] == B * T:
        site._warned_batch_outer = True
        warnings.warn(
            f"snnenergy: {site.layer or '<root>'}:{site.op} sees a [B·T, ...] input folded batch-outer (from a "
            f"[B={B}, T={T}, ...] tensor); its counts per step assume time outer ([T·B, ...], x.transpose(0, 1)"
            f".flatten(0, 1)), so its per-step figures are not the steps' (the totals are right)",
            UserWarning, stacklevel=2)


def warn_time_layout(session) -> None:
    """Warn when the neuron outputs' shapes say T or the batch dim looks wrong: every output ``[D, B, ...]``
    with D ≠ T (more or fewer steps in the data than ``time_steps``), or every output's dim 0 equal to T
    while the batch was read from dim 0 (a ``[T, B, ...]`` input profiled with ``batch_dim=0``)."""
    T, B = session.T, session.batch_size
    leads = session.neuron_leads
    if not leads or any(len(lead) < 2 for lead in leads):
        return
    dims0 = {lead[0] for lead in leads}
    if len(dims0) != 1:
        return
    d0 = next(iter(dims0))
    if all(lead[1] == B for lead in leads) and d0 != T and d0 > 1 and d0 != B:
        warnings.warn(
            f"snnenergy: every neuron output is [{d0}, B={B}, ...] but time_steps={T}: the data look like {d0} time "
            f"steps; pass time_steps={d0} (steps are otherwise merged or split)", UserWarning, stacklevel=3)
    elif T > 1 and d0 == T and d0 == B and all(lead[1] != B for lead in leads):
        warnings.warn(
            f"snnenergy: dim 0 of every neuron output equals time_steps={T}, as in a [T, B, ...] layout, but the "
            f"batch was read from dim 0 ({B} samples); if dim 1 is the batch, pass batch_dim=1", UserWarning,
            stacklevel=3)


def warn_batch_major_steps(session, path: str, x) -> None:
    """Warn (once per session) when a neuron gets a ``[T, B, ...]`` input stored batch-major (a transposed
    view of ``[B, T, ...]`` memory): the layers before it then ran on rows folded batch-outer, ``[B·T, ...]``,
    whose split into T parts gives samples, not steps."""
    T, B = session.T, session.batch_size
    if T < 2 or B < 2 or getattr(session, "_warned_batch_major", False) or x.dim() < 2:
        return
    if tuple(x.shape[:2]) == (T, B) and x.stride(1) >= T * x.stride(0) > 0 and x._base is not None \
            and _made_by_synaptic_op(session, x._base):
        session._warned_batch_major = True
        warnings.warn(
            f"snnenergy: neuron {path!r} gets [T={T}, B={B}, ...] input stored batch-major (a transpose of "
            f"[B, T, ...]); layers that ran on it folded as [B·T, ...] (batch outer) have their per-step counts "
            f"split by samples, not steps (totals are right); fold time outer instead: x.transpose(0, 1)"
            f".flatten(0, 1)", UserWarning, stacklevel=3)


def _made_by_synaptic_op(session, base) -> bool:
    """Whether ``base`` is the output of a synaptic op: only then is a batch-major view of it evidence that
    the op ran on rows folded batch-outer (a norm over ``[B, C, T, ...]`` permuted back, as a time-dependent
    BatchNorm does, leaves a batch-major view of a time-outer computation)."""
    node = session.prov.nodes.get(session.prov.producer(base))
    return node is not None and node[2] == "synaptic"
