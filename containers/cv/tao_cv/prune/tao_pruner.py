"""TAO's documented pruning algorithm, applied to coupled channel groups found by Torch-Pruning.

For every group of coupled output channels (a convolution with its BN, plus every layer tied to it by a
residual add or a depthwise convolution), each member's filters are scored by L2 norm and normalized per
layer (`max` or `L2`); member scores are combined by the equalization criterion; the number of channels kept
is the count above the threshold, raised to min(min_num_filters, depth), rounded up to a multiple of the
granularity (capped at depth); the highest-scoring channels are kept in every member at once.
A group with an excluded member keeps all its channels. The classifier head is never pruned.

Beyond TAO, `--criterion` swaps the per-layer norms for one of Torch-Pruning's group importances (group_l2,
taylor, bn_scale); the threshold, minimum and granularity rules stay. Scores are computed once (`score_groups`),
so that a search (prune/search.py) can cut copies of the network at many thresholds.
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


# --criterion: TAO's per-layer L2 norms (the default, with -n/-eq as TAO defines them), or one of Torch-Pruning's
# group importances, reduced over the group's members by its own rule chosen from -eq.
CRITERIA = ("l2", "group_l2", "taylor", "bn_scale")
TP_REDUCTIONS = {"union": "max", "arithmetic_mean": "mean"}


def _tp_importance(criterion, equalization):
    if equalization not in TP_REDUCTIONS:
        raise UserError(f"--criterion {criterion} combines a group's members by max (-eq union) or mean "
                        f"(-eq arithmetic_mean), not {equalization}; pick one of those, or --criterion l2")
    reduction = TP_REDUCTIONS[equalization]
    if criterion == "group_l2":
        return tp.importance.GroupMagnitudeImportance(p=2, group_reduction=reduction, normalizer=None)
    if criterion == "taylor":
        return tp.importance.GroupTaylorImportance(group_reduction=reduction, normalizer=None)
    return tp.importance.BNScaleImportance(group_reduction=reduction, normalizer=None)


def _require_gradients(model):
    params = [p for p in model.parameters() if p.requires_grad]
    if all(p.grad is None for p in params):
        raise UserError("--criterion taylor needs the training loss's gradients: none were computed")
    for param in params:  # a parameter the loss does not reach has no gradient: its |w x grad| is 0
        if param.grad is None:
            param.grad = torch.zeros_like(param)


def score_groups(model, example_input, *, normalizer="max", equalization="union", excluded_layers=(), heads=None,
                 criterion="l2"):
    """The channel scores of every prunable coupled group, normalized per TAO (-n): [{root, layers, scores}], `root`
    the name of the group's first layer. `taylor` reads the gradients already accumulated in the model's
    parameters. Scores are decided once, on the unpruned weights; `cut` applies them at any threshold."""
    model.eval()
    excluded = _resolve_layers(model, excluded_layers)
    names = {m: n for n, m in model.named_modules()}
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=example_input)
    ignored = [*(heads if heads is not None else [classifier_head(model)]), *excluded]
    importance = None if criterion == "l2" else _tp_importance(criterion, equalization)
    if criterion == "taylor":
        _require_gradients(model)
    scored = []
    for group in graph.get_all_groups(ignored_layers=ignored, root_module_types=PRUNABLE):
        root = group[0].dep.target.module
        depth = len(group[0].idxs)
        if importance is None:
            member_scores = _filter_scores(group, depth)
            if not member_scores:
                continue
            scores = equalize([normalize(s, normalizer) for s in member_scores.values()], equalization)
        else:
            raw = importance(group)
            if raw is None or len(raw) != depth:  # e.g. bn_scale on a group without BatchNorm: kept whole
                continue
            scores = normalize(raw.detach().float().cpu().abs(), normalizer)
        scored.append({"root": names[root], "layers": [names.get(m, str(m)) for m in _members(group)], "scores": scores})
    return scored


def plan(scored, *, threshold=0.1, granularity=8, min_filters=16):
    """TAO's decision for every scored group at `threshold`: [{root, layers, before, after, at_min_filters}]."""
    plans = []
    for entry in scored:
        scores, depth = entry["scores"], len(entry["scores"])
        keep = channels_to_keep(scores, threshold, granularity, min_filters)
        # The threshold alone would have cut this group below -nf: the floor, not the scores, set its width.
        floored = keep < depth and int((scores > threshold).sum()) < min(min_filters, depth)
        plans.append({"root": entry["root"], "layers": entry["layers"], "before": depth, "after": keep,
                      "at_min_filters": floored})
    return plans


def keep_counts(plans):
    """{root: channels kept} of `plan`'s decisions: what `cut` takes."""
    return {p["root"]: p["after"] for p in plans}


def cut(model, example_input, scored, keep):
    """Prune `model` (the network `scored` was computed on, or a copy of it) in place: group `root` keeps its
    `keep[root]` highest-scoring channels; a group not in `keep` keeps all of them."""
    model.eval()
    modules = dict(model.named_modules())
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=example_input)
    removals = []
    for entry in scored:  # every choice is made on the original weights first; then the cuts
        order = torch.argsort(entry["scores"], descending=True)
        pruned = sorted(order[keep.get(entry["root"], len(order)):].tolist())
        if pruned:
            removals.append((modules[entry["root"]], pruned))
    for root, pruned in removals:
        pruner = graph.get_pruner_of_module(root)
        graph.get_pruning_group(root, pruner.prune_out_channels, pruned).prune()
    return model


def prune_model(model, example_input, *, threshold=0.1, normalizer="max", equalization="union", granularity=8,
                min_filters=16, excluded_layers=(), heads=None, criterion="l2"):
    """Prune `model` in place; return the per-group decisions [{root, layers, before, after, at_min_filters}].
    `heads`: output layers whose channels are the task's outputs (never pruned); default the classifier's."""
    scored = score_groups(model, example_input, normalizer=normalizer, equalization=equalization,
                          excluded_layers=excluded_layers, heads=heads, criterion=criterion)
    plans = plan(scored, threshold=threshold, granularity=granularity, min_filters=min_filters)
    cut(model, example_input, scored, keep_counts(plans))
    return plans


def threshold_for_target(measure, target, high, steps=14):
    """The smallest threshold in [0, high] whose `measure(threshold)` (a cost that falls as the threshold rises:
    a MACs ratio, a latency ratio) is at or under `target`, by bisection; (threshold, its measure), or None when
    even `high` stays above the target."""
    value = measure(high)
    if value > target:
        return None
    low, best = 0.0, (high, value)
    for _ in range(steps):
        middle = (low + best[0]) / 2
        value = measure(middle)
        if value <= target:
            best = (middle, value)
        else:
            low = middle
    return best


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
    # Only the layers that were cut, each through its own coupled group (which cuts its partners with it): no
    # walk over every group — that one grows without bound through YOLOv4's reshaped, concatenated outputs.
    for name, layer in model.named_modules():
        if not isinstance(layer, PRUNABLE):
            continue
        current = layer.out_channels if isinstance(layer, nn.Conv2d) else layer.out_features
        removed = current - widths.get(name, current)
        if removed > 0:
            pruner = graph.get_pruner_of_module(layer)
            graph.get_pruning_group(layer, pruner.prune_out_channels, list(range(removed))).prune()
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
