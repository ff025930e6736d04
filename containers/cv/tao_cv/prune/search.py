"""Choosing how much to prune, on a scored network (tao_pruner.score_groups): the threshold that meets a MACs or
a measured-speed target, and how much each group alone costs in accuracy (its sensitivity)."""

import copy
import math
import tempfile
import warnings
from pathlib import Path

import torch

from ..engine.profile import count_macs, ort_latencies_ms
from .tao_pruner import cut, keep_counts, plan, threshold_for_target


def search_threshold(model, example_input, scored, target, measure_kind, *, granularity, min_filters, hw,
                     speed_batch_size=16):
    """The smallest -pth whose pruned network meets `target`: a MACs ratio (`macs`, counted), or a latency ratio
    (`latency`, ONNX Runtime on this CPU, pruned / unpruned at `speed_batch_size`). Returns (threshold, the
    measured ratio) or None if even the -nf floor everywhere stays above the target. Thresholds that give the same
    widths are measured once."""
    measured = {}
    high = max(1.0, *(float(e["scores"].max()) for e in scored)) if scored else 1.0
    with tempfile.TemporaryDirectory() as work:
        reference = None
        if measure_kind == "latency":
            reference = Path(work) / "unpruned.onnx"
            _timing_onnx(model, reference, hw)
        base_macs = count_macs(model, hw)

        def measure(threshold):
            plans = plan(scored, threshold=threshold, granularity=granularity, min_filters=min_filters)
            key = tuple(p["after"] for p in plans)
            if key not in measured:
                trial = cut(copy.deepcopy(model), example_input, scored, keep_counts(plans))
                if measure_kind == "macs":
                    measured[key] = count_macs(trial, hw) / base_macs
                else:
                    path = Path(work) / "trial.onnx"
                    _timing_onnx(trial, path, hw)
                    unpruned_ms, pruned_ms = ort_latencies_ms([reference, path], hw, speed_batch_size, rounds=3,
                                                              runs_per_round=5)
                    measured[key] = pruned_ms / unpruned_ms
            return measured[key]

        return threshold_for_target(measure, target, high)


def _timing_onnx(model, path, hw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.cpu().eval(), (torch.zeros(1, 3, *hw),), str(path), opset_version=17,
                          input_names=["input"], dynamic_axes={"input": {0: "batch"}}, dynamo=False)


def sensitivity(model, example_input, scored, evaluate, *, keep_fraction, granularity, min_filters):
    """Each group pruned alone to `keep_fraction` of its channels (its lowest-scoring ones go), the rest intact:
    [{root, layers, before, after, metric}] with `evaluate(model) -> metric` (e.g. validation top-1). A group at or
    under -nf stays whole and is not measured."""
    rows = []
    for entry in scored:
        depth = len(entry["scores"])
        keep = min(depth, max(math.ceil(depth * keep_fraction / granularity) * granularity, min(min_filters, depth)))
        if keep == depth:
            continue
        trial = cut(copy.deepcopy(model), example_input, scored, {entry["root"]: keep})
        rows.append({"root": entry["root"], "layers": entry["layers"], "before": depth, "after": keep,
                     "metric": evaluate(trial.eval())})
    return rows
