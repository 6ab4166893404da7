"""Neuron recording: each neuron layer's output range and spikes per step and neuron.

A call adds its spikes, summed over the batch, into a device accumulator per layer (one op per call);
:func:`finalize_neurons` reduces the accumulators to spikes per step and to the numbers of neurons that never
/ always spiked, and queues both, and :func:`set_fractions` turns those into fractions after the host copy
(:func:`neuron_fractions` does the same from counts combined across processes).
"""
from __future__ import annotations

import torch

from . import formulas as fm
from .accumulators import NeuronStats


def neuron_stats(session, path: str, info) -> NeuronStats:
    st = session.neurons.get(path)
    if st is None:
        st = session.neurons[path] = NeuronStats(path, info.type_name, session.T, info.has_leak)
    return st


def record_neuron_output(session, path: str, info, s: torch.Tensor, single_step: bool = False) -> None:
    """Count a neuron layer's output: its value range (queued) and its spikes per step and neuron, summed
    over the batch into a device accumulator that :func:`finalize_neurons` reduces (one op per call here).
    ``single_step``: the neuron says it runs one step per call (``step_mode='s'``): its calls are never split
    into steps, whatever their shape."""
    st = neuron_stats(session, path, info)
    T, B = session.T, session.batch_size
    q = session.queue
    st.calls += 1
    if session.track_ops and s.numel():
        # cached with the spikes' summaries: a consumer of the spikes then only needs their fractional parts
        r_min, r_max = session.summaries.value_range(s)
        q.neuron_calls.append((st, r_min, r_max, None, -1, 0))
    # spikes = Σ output values (a multi-spike neuron's 2 is two spikes); |values| for signed (ternary) neurons
    if info.signed:
        s = s.abs()
    dtype = _sum_dtype(s)
    session.neuron_leads.add(tuple(s.shape[:2]))
    timed = s.dim() >= 2 and s.shape[0] == T and s.shape[1] == B or (s.dim() >= 1 and s.shape[0] == T * B and T > 1)
    if timed and not single_step:
        # one pass: sum over the batch -> [T, neuron dims]; exact in float32 (each entry is at most
        # B·largest spike value). A [T, B, ...] output is summed as it is (a reshape would be one more op per
        # call); the accumulators are flattened to [T, N] once, when they are reduced
        steps_first = s.dim() > 2 and s.shape[0] == T and s.shape[1] == B
        rows = _batch_sum(s if steps_first else s.reshape(T, B, -1), dtype, 1)
        n = s.numel() // T
        for t in range(T):
            st.elements[t] += n
        st.neuron_steps += T * B
        key = -1
    else:
        key = st.call_slot(session.forward_id)
        st.untimed_calls += 1
        if s.dim() >= 1 and s.shape[0] == B:
            rows = _batch_sum(s, dtype, 0)
            st.neuron_steps += B
        else:
            rows = s.sum(dtype=dtype).reshape(1)
            st.neuron_steps += 1
        st.elements[key] += s.numel()
    acc = st.acc.get(key)
    if acc is not None and acc.shape != rows.shape and acc.shape[0] == rows.shape[0] and acc.numel() == rows.numel():
        rows = rows.reshape(acc.shape)  # the same neurons, from a call laid out the other way ([T·B, ...])
    if acc is None:
        st.acc[key] = rows
    elif acc.shape == rows.shape:
        if acc.dtype == torch.float64:
            acc.add_(rows)  # the layer's own accumulator (made below): added in place
        else:
            st.acc[key] = acc.to(torch.float64) + rows  # float64 from the second batch on: sums stay exact
    else:  # the layer's size changed between calls (another input size): keep its spike totals only
        _queue_spikes(q, st, key, acc)
        st.varying = True
        st.acc[key] = rows
    q.maybe_fold()


def _queue_spikes(q, st: NeuronStats, key: int, acc: torch.Tensor) -> None:
    """Queue the spike totals of one accumulator (per step for key -1, else of one call slot)."""
    if key < 0:
        q.neuron_calls.append((st, None, None, q.vector(acc.flatten(1).sum(1, dtype=torch.float64)), -1, 0))
    else:
        q.neuron_calls.append((st, None, None, q.scalar(acc.sum(dtype=torch.float64)), key, 0))


def _alike_slots(st: NeuronStats) -> bool:
    """Whether a layer's accumulators are one per call slot of a single-step loop, all of one shape and dtype."""
    accs = st.acc
    return (not st.varying and len(accs) > 1 and min(accs) >= 0
            and len({(a.shape, a.dtype) for a in accs.values()}) == 1)


def _per_slot_spikes(q, st: NeuronStats) -> torch.Tensor:
    """Queue the spike totals of every call slot of a layer (:func:`_alike_slots`) from one stack; returns its
    spikes per neuron."""
    stacked = torch.stack(list(st.acc.values()))  # [slots, ...]
    r = q.vector(stacked.sum(tuple(range(1, stacked.dim())), dtype=torch.float64))
    for i, key in enumerate(st.acc):
        q.neuron_calls.append((st, None, None, r, key, i))
    return stacked.sum(0, dtype=torch.float64)


def _spikes_per_accumulator(q, st: NeuronStats) -> torch.Tensor | None:
    """Queue the spike totals of each of a layer's accumulators; returns its spikes per neuron (flat), ``None``
    with ``st.varying`` set when the accumulators do not hold the same neurons."""
    per_neuron = None
    for key, acc in st.acc.items():
        _queue_spikes(q, st, key, acc)
        part = (acc.sum(0) if key < 0 else acc).reshape(-1)
        if per_neuron is None:
            per_neuron = part
        elif per_neuron.shape == part.shape:
            per_neuron = per_neuron.to(torch.float64) + part
        else:
            st.varying = True
    return per_neuron


def finalize_neurons(session, keep_counts: bool = False) -> list[tuple]:
    """Reduce the neuron accumulators to spikes per step on the device and queue them, with the numbers of
    neurons that never / always spiked per layer (so that one host copy brings both); returns the records
    :func:`set_fractions` reads after that copy. ``keep_counts``: keep the spikes per neuron on the device
    (``st.per_neuron``) for :func:`neuron_fractions` to combine with other processes' counts.

    Layers whose accumulators have the same shape (the blocks of a transformer, say) are reduced together:
    a few ops for all of them."""
    q = session.queue
    groups: dict[tuple, list[NeuronStats]] = {}
    singles: list[tuple[NeuronStats, torch.Tensor, int]] = []  # layers reduced one by one
    for st in session.neurons.values():
        if len(st.acc) == 1 and not st.varying and st.neuron_steps:
            (key, acc), = st.acc.items()
            groups.setdefault((key, tuple(acc.shape), acc.dtype, acc.device, st.neuron_steps), []).append(st)
            continue
        per_neuron = _per_slot_spikes(q, st) if _alike_slots(st) else _spikes_per_accumulator(q, st)
        st.acc = {}
        if per_neuron is None or st.varying or not st.neuron_steps:
            continue
        singles.append((st, per_neuron, st.neuron_steps))
        if keep_counts:
            st.per_neuron = per_neuron.reshape(-1)
    refs = _queued_fractions(q, singles)
    for (key, *_, steps), sts in groups.items():
        accs = [st.acc[key] for st in sts]
        if len(accs) == 1:  # one layer of its shape (a conv net's): no stack or view to make
            stacked = accs[0]  # [T, ...] or [...]
            if key < 0:  # spikes per step, per neuron
                r = q.vector(stacked.sum(tuple(range(1, stacked.dim())), dtype=torch.float64))
                per_neuron = stacked.sum(0)
            else:  # one call slot's
                r, per_neuron = q.scalar(stacked.sum(dtype=torch.float64)), stacked
        else:
            stacked = torch.stack(accs)  # [layers, T, ...] or [layers, ...]
            stacked = stacked.flatten(2) if key < 0 else stacked.flatten(1)  # [layers, T, N] or [layers, N]
            r = q.vector(stacked.sum(-1, dtype=torch.float64).view(-1))
            per_neuron = stacked.sum(1) if key < 0 else stacked  # [layers, N]
        step = session.T if key < 0 else 1
        for i, st in enumerate(sts):
            q.neuron_calls.append((st, None, None, r, key, i * step))
            if keep_counts:  # spikes per neuron, summed over the steps
                st.per_neuron = per_neuron[i] if len(sts) > 1 else per_neuron.reshape(-1)
            st.acc = {}
        refs.append(_dead_saturated(q, sts, per_neuron, steps, grouped=len(sts) > 1))
    return refs


def _queued_fractions(q, layers: list[tuple[NeuronStats, torch.Tensor, int]]) -> list[tuple]:
    """Queue the dead / saturated counts of layers given as ``(stats, spikes per neuron, neuron-steps)``, those
    alike in shape and neuron-steps from one stack; returns the records for :func:`set_fractions`."""
    groups: dict[tuple, list[tuple[NeuronStats, torch.Tensor]]] = {}
    for st, per_neuron, steps in layers:
        key = (tuple(per_neuron.shape), per_neuron.dtype, per_neuron.device, steps)
        groups.setdefault(key, []).append((st, per_neuron))
    refs = []
    for (*_, steps), members in groups.items():
        counts = [pn for _, pn in members]
        stacked = torch.stack(counts) if len(counts) > 1 else counts[0]
        refs.append(_dead_saturated(q, [st for st, _ in members], stacked, steps, grouped=len(counts) > 1))
    return refs


def set_fractions(refs: list[tuple], values: list[float], at) -> None:
    """Set each layer's dead / saturated fractions from the copied queue (records of :func:`_dead_saturated`)."""
    for sts, r_counts, numel in refs:
        dead, saturated = at(r_counts), at(r_counts) + len(sts)
        for i, st in enumerate(sts):
            st.dead = values[dead + i] / numel
            st.saturated = values[saturated + i] / numel


def neuron_fractions(session, reduce) -> None:
    """Set each neuron layer's fractions of neurons that never / always spiked from its spike counts per
    neuron combined with other processes' by ``reduce`` (:mod:`snnenergy.distributed`; the session was
    finalised with ``keep_counts``). Layers without per-neuron counts get NaN; one more small copy.

    ``reduce`` gets ``(layer, counts [N] or None, neuron-steps)`` for every neuron layer, in the session's
    order (``None`` where the layer has no per-neuron counts), and returns one ``(counts or None,
    neuron-steps)`` per entry; ``None`` leaves that layer's fractions NaN."""
    sts = list(session.neurons.values())
    entries = []
    for st in sts:
        entries.append((st.layer, st.per_neuron, st.neuron_steps))
        st.per_neuron, st.dead, st.saturated = None, float("nan"), float("nan")
    combined = [(st, pn, steps) for st, (pn, steps) in zip(sts, reduce(entries)) if pn is not None]
    refs = _queued_fractions(session.queue, combined)
    values, at = session.queue.fold()
    set_fractions(refs, values, at)


def _dead_saturated(q, sts: list[NeuronStats], per_neuron: torch.Tensor, steps: int, grouped: bool = True
                    ) -> tuple:
    """Queue the numbers of neurons that never / always spiked, for layers with spike counts ``per_neuron``
    ``[layers, N]`` (not ``grouped``: one layer's, of any shape), as one vector (dead counts, then saturated
    counts) from one reduction: the comparisons are written side by side into a float block (bool reductions
    are slow on CPU)."""
    layers = per_neuron.shape[0] if grouped else 1
    n = per_neuron.numel() // max(layers, 1)
    never, always, block = fm.thread_scratch().pair(per_neuron, layers)  # [layers, N] twice; [2·layers, N]
    torch.eq(per_neuron, 0, out=never)
    torch.ge(per_neuron, steps, out=always)
    return sts, q.vector(block.sum(1, dtype=fm.count_dtype(block, n))), n


def _batch_sum(s: torch.Tensor, dtype: torch.dtype | None, dim: int) -> torch.Tensor:
    """``s`` summed over its batch dim ``dim``, a fresh tensor (a batch of one is copied, not reduced: a
    reduction over a size-1 dim is slow)."""
    if s.shape[dim] == 1:
        one = s.select(dim, 0)
        return one.clone() if dtype is None else one.to(dtype)
    return s.sum(dim, dtype=dtype)


def _sum_dtype(t: torch.Tensor) -> torch.dtype | None:
    """Accumulate half-precision spikes in float32 (bf16/fp16 sums stop being exact past 256/2048)."""
    return torch.float32 if t.dtype in (torch.float16, torch.bfloat16) or not t.is_floating_point() else None
