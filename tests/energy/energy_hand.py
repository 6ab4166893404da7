"""Hand-built reports (a Report is its tables): the energy model is tested on counts written out by hand."""
import pandas as pd

from snnenergy.report import Report

SITE = {"index": 0, "other_operand": "weight", "effective_ops": 0.0, "integer_mac": 0.0, "mac": 0.0, "ac": 0.0,
        "bias_ops": 0.0, "calls": 1.0, "per_step": True, "producer": "", "input_min": 0.0, "input_max": 1.0}
NEURON = {"type": "LIF", "has_leak": True, "per_step": True, "dead": 0.0, "saturated": 0.0, "calls": 1.0}


def site(layer: str, op: str, input_kind: str, **cols) -> dict:
    return {**SITE, "layer": layer, "op": op, "input_kind": input_kind, **cols}


def neuron(layer: str, neurons: float, spikes: float, **cols) -> dict:
    return {**NEURON, "layer": layer, "neurons": neurons, "spikes": spikes, **cols}


def report(T: int, sites: list[dict], neurons: list[dict] = ()) -> Report:
    return Report({"time_steps": T, "weights": "as given", "model": "hand"}, layers=pd.DataFrame(sites),
                  neurons=pd.DataFrame(list(neurons)))
