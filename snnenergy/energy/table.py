"""One table comparing presets and levels on the same counts (``Report.energy_table``)."""
from __future__ import annotations

from typing import Iterable

import pandas as pd

from .model import TERMS, estimate_energy
from .presets import get_preset

TABLE_COLUMNS = ["preset", "level", "integer_as", "snn_mJ", "ann_mJ", "qnn_mJ", "ann_over_snn", "qnn_over_snn",
                 "qnn_bits", "break_even_pct", "break_even_qnn_pct", *[f"snn_{t}" for t in TERMS], "note"]


def energy_table(report, presets: Iterable = ("fp32",), levels: Iterable[int] = (1, 2, 3),
                 integer_as: str = "mac", **memory) -> pd.DataFrame:
    """One row per (preset, level): SNN/ANN/QNN totals, ratios, break-even rates (%) and the SNN's per-term
    totals. A combination that is not defined (a chip preset at level 3) is a row of NaN with a ``note``.
    ``memory``: ``sram_kib``, ``dram``, ``sram_model`` for level 3."""
    rows = []
    for preset in presets:
        p = get_preset(preset)
        for level in levels:
            row = {"preset": p.name, "level": level, "integer_as": integer_as, "note": ""}
            if p.chip and level == 3:
                row["note"] = "chip figures include memory: level 3 not defined"
                rows.append(row)
                continue
            e = estimate_energy(report, p, level=level, integer_as=integer_as, **memory)
            t = e.totals
            row.update({k: t[k] for k in ("snn_mJ", "ann_mJ", "qnn_mJ", "ann_over_snn", "qnn_over_snn", "qnn_bits")})
            row["break_even_pct"] = 100 * t["break_even_rate"]
            row["break_even_qnn_pct"] = 100 * t["break_even_rate_qnn"]
            row.update({f"snn_{k}": e.breakdown.loc["snn", k] for k in TERMS})
            rows.append(row)
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)
