"""TAO's documented pruning algorithm, applied to coupled channel groups found by Torch-Pruning.

For every group of coupled output channels (a convolution with its BN, plus every layer tied to it by a
residual add or a depthwise convolution), each member's filters are scored by L2 norm and normalized per
layer (`max` or `L2`); member scores are combined by the equalization criterion; the number of channels kept
is the count above the threshold, raised to min(min_num_filters, depth), rounded up to a multiple of the
granularity (capped at depth); the highest-scoring channels are kept in every member at once.
A group with an excluded member keeps all its channels. The classifier head is never pruned.
"""

import difflib
import math

import torch
import torch_pruning as tp
from torch import nn

from tao_inference.errors import UserError
from ..models.registry import classifier_head

PRUNABLE = (nn.Conv2d, nn.Linear)


def normalize(scores, normalizer):
    if normalizer == "max":
        return scores / scores.max().clamp_min(1e-12)
    if normalizer == "L2":
        return scores / scores.pow(2).sum().sqrt().clamp_min(1e-12) * len(scores)
    raise ValueError(normalizer)


def equalize(per_layer, criterion):
    """Combine the normalized score vectors of a group's members into one."""
    stacked = torch.stack(per_layer)
    if criterion == "union":
        return stacked.max(0).values
    if criterion == "intersection":
        return stacked.min(0).values
    if criterion == "arithmetic_mean":
        return stacked.mean(0)
    if criterion == "geometric_mean":
        return stacked.clamp_min(1e-12).log().mean(0).exp()
    raise ValueError(criterion)


def channels_to_keep(scores, threshold, granularity, min_filters):
    """How many channels of this group survive: TAO's threshold, minimum and granularity rules."""
    depth = len(scores)
    keep = int((scores > threshold).sum())
    keep = max(keep, min(min_filters, depth))
    return min(depth, math.ceil(keep / granularity) * granularity)


def _filter_scores(group, depth):
    """Per-member L2 filter norms mapped onto the group's channel positions."""
    scores = {}
    for item in group:
        dep, idxs = item.dep, item.idxs
        module = dep.target.module
        if not isinstance(module, PRUNABLE) or not group._DG.is_out_channel_pruning_fn(dep.handler):
            continue
        root_idxs = getattr(item, "root_idxs", idxs)
        norms = module.weight.detach()[idxs].flatten(1).pow(2).sum(1)
        squared = torch.zeros(depth).index_add_(0, torch.as_tensor(root_idxs), norms.float().cpu())
        scores[dep.target.name.split(" ")[0]] = squared.sqrt()
    return scores


def _resolve_layers(model, names, flag="-el"):
    modules = dict(model.named_modules())
    resolved = []
    for name in names:
        if name not in modules:
            near = difflib.get_close_matches(name, [n for n, m in modules.items() if isinstance(m, PRUNABLE)], n=3)
            hint = f" — did you mean {', '.join(near)}?" if near else ""
            raise UserError(f"{flag}: layer '{name}' is not in the model{hint}")
        resolved.append(modules[name])
    return resolved


def prune_model(model, example_input, *, threshold=0.1, normalizer="max", equalization="union", granularity=8,
                min_filters=16, excluded_layers=(), heads=None):
    """Prune `model` in place; return the per-group decisions [{root, layers, before, after, at_min_filters}].
    `heads`: output layers whose channels are the task's outputs (never pruned); default the classifier's."""
    model.eval()
    excluded = _resolve_layers(model, excluded_layers)
    names = {m: n for n, m in model.named_modules()}
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=example_input)
    ignored = [*(heads if heads is not None else [classifier_head(model)]), *excluded]
    plans = []
    for group in graph.get_all_groups(ignored_layers=ignored, root_module_types=PRUNABLE):
        root = group[0].dep.target.module
        depth = len(group[0].idxs)
        member_scores = _filter_scores(group, depth)
        if not member_scores:
            continue
        per_layer = [normalize(s, normalizer) for s in member_scores.values()]
        scores = equalize(per_layer, equalization)
        keep = channels_to_keep(scores, threshold, granularity, min_filters)
        order = torch.argsort(scores, descending=True)
        pruned = sorted(order[keep:].tolist())
        members = [names.get(m, str(m)) for m in _members(group)]
        # The threshold alone would have cut this group below -nf: the floor, not the scores, set its width.
        floored = keep < depth and int((scores > threshold).sum()) < min(min_filters, depth)
        plans.append({"root": root, "layers": members, "before": depth, "after": keep, "prune_idxs": pruned,
                      "at_min_filters": floored})
    for plan in plans:  # decide everything on the original weights first, then cut
        if plan["prune_idxs"]:
            pruner = graph.get_pruner_of_module(plan["root"])
            graph.get_pruning_group(plan["root"], pruner.prune_out_channels, plan["prune_idxs"]).prune()
    return [{k: plan[k] for k in ("layers", "before", "after", "at_min_filters")} for plan in plans]


def layer_widths(model):
    """{layer name: output channels} of every prunable layer: what a pruned network's shape is, as data."""
    return {name: m.out_channels if isinstance(m, nn.Conv2d) else m.out_features
            for name, m in model.named_modules() if isinstance(m, PRUNABLE)}


def replay_pruning(model, widths, example_input):
    """Cut a freshly built network to recorded `layer_widths`, coupled group by coupled group, so that a pruned
    checkpoint is plain data. Its weights, loaded afterwards, set the values: which channels go does not matter,
    only how many."""
    model.eval()
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=example_input)
    names = {m: n for n, m in model.named_modules()}
    roots = [group[0].dep.target.module for group in graph.get_all_groups(root_module_types=PRUNABLE)]
    for root in roots:
        current = root.out_channels if isinstance(root, nn.Conv2d) else root.out_features
        removed = current - widths.get(names[root], current)
        if removed > 0:
            pruner = graph.get_pruner_of_module(root)
            graph.get_pruning_group(root, pruner.prune_out_channels, list(range(removed))).prune()
    wrong = sorted(name for name, width in layer_widths(model).items() if widths.get(name, width) != width)
    if wrong:
        raise UserError(f"the checkpoint's recorded layer widths do not fit its network ({', '.join(wrong[:3])}): "
                        "a damaged file?")
    return model


def _members(group):
    seen = []
    for item in group:
        module = item.dep.target.module
        if isinstance(module, PRUNABLE) and group._DG.is_out_channel_pruning_fn(item.dep.handler) and module not in seen:
            seen.append(module)
    return seen
