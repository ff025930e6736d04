"""Beyond TAO's L2 norm: Torch-Pruning's importances as --criterion, the threshold search that meets a MACs target,
and the per-group sensitivity measure."""

import copy

import pytest
import torch

from tao_cv.engine.profile import count_macs
from tao_cv.prune import cut, plan, score_groups
from tao_cv.prune.search import search_threshold, sensitivity
from tao_cv.prune.tao_pruner import threshold_for_target
from tao_inference.errors import UserError
from test_prune import CONV_B, STEM, residual_net

EXAMPLE = torch.zeros(1, 3, 8, 8)


def scores_of(net, criterion, equalization="union"):
    return {e["root"]: e["scores"] for e in score_groups(net, EXAMPLE, criterion=criterion, equalization=equalization)}


def test_bn_scale_keeps_the_channels_with_the_largest_batchnorm_gammas():
    net = residual_net(STEM, CONV_B)  # L2 norms favour filters 0, 1, 4 of conv_a's group ...
    with torch.no_grad():  # ... but its BN scales favour 5, 6, 7
        net.bn_a.weight.copy_(torch.tensor([0.1, 0.1, 0.1, 0.1, 0.1, 0.9, 1.0, 0.8]))
    scores = scores_of(net, "bn_scale")["conv_a"]
    assert torch.allclose(scores, torch.tensor([0.1, 0.1, 0.1, 0.1, 0.1, 0.9, 1.0, 0.8]))
    expected = net.conv_a.weight[[5, 6, 7]].clone()
    scored = score_groups(net, EXAMPLE, criterion="bn_scale")
    cut(net, EXAMPLE, scored, {"conv_a": 3})
    assert torch.equal(net.conv_a.weight, expected) and net(torch.zeros(2, 3, 8, 8)).shape == (2, 4)


def test_taylor_scores_follow_the_gradients_and_group_l2_differs_from_tao_l2():
    net = residual_net(STEM, CONV_B)
    with pytest.raises(UserError, match="needs the training loss's gradients"):
        scores_of(net, "taylor")
    images = torch.randn(4, 3, 8, 8)
    torch.nn.functional.cross_entropy(net(images), torch.tensor([0, 1, 2, 3])).backward()
    taylor = scores_of(net, "taylor")["conv_a"]
    assert taylor.max() == 1.0 and len(set(taylor.tolist())) > 4  # max-normalized, channels told apart
    assert not torch.allclose(scores_of(net, "group_l2")["conv_b"], scores_of(net, "l2")["conv_b"])
    with pytest.raises(UserError, match="-eq union.*arithmetic_mean"):
        scores_of(net, "taylor", equalization="intersection")


def test_threshold_for_target_is_the_smallest_that_meets_it():
    cost = lambda t: 1.0 - 0.8 * min(t, 1.0)  # noqa: E731 — falls from 1.0 to 0.2
    threshold, value = threshold_for_target(cost, 0.5, high=1.0)
    assert value <= 0.5 and abs(threshold - 0.625) < 1e-3
    assert threshold_for_target(cost, 0.1, high=1.0) is None  # even the highest threshold leaves 0.2


def test_search_threshold_meets_a_macs_ratio_and_says_when_it_cannot():
    net = residual_net(STEM, CONV_B, a_norms=[1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    scored = score_groups(net, EXAMPLE)
    base = count_macs(net, 8)
    threshold, ratio = search_threshold(net, EXAMPLE, scored, 0.6, "macs", granularity=1, min_filters=1, hw=(8, 8))
    pruned = cut(copy.deepcopy(net), EXAMPLE, scored,
                 {p["root"]: p["after"] for p in plan(scored, threshold=threshold, granularity=1, min_filters=1)})
    assert count_macs(pruned, 8) / base == ratio <= 0.6
    # a little less pruning no longer meets the target: the smallest such threshold was chosen
    looser = cut(copy.deepcopy(net), EXAMPLE, scored, {p["root"]: p["after"] for p in
                                                      plan(scored, threshold=threshold * 0.9, granularity=1, min_filters=1)})
    assert count_macs(looser, 8) / base > 0.6
    assert search_threshold(net, EXAMPLE, scored, 0.01, "macs", granularity=1, min_filters=4, hw=(8, 8)) is None


def test_sensitivity_prunes_each_group_alone():
    net = residual_net(STEM, CONV_B)
    scored = score_groups(net, EXAMPLE)
    widths = lambda m: (m.conv_a.out_channels, m.stem.out_channels)  # noqa: E731
    rows = sensitivity(net, EXAMPLE, scored, widths, keep_fraction=0.5, granularity=1, min_filters=1)
    by_root = {row["root"]: row for row in rows}
    assert by_root["conv_a"]["metric"] == (4, 8) and by_root["conv_b"]["metric"] == (8, 4)
    assert all(row["after"] == 4 for row in rows) and widths(net) == (8, 8)  # the original stays whole


def test_search_threshold_for_a_speedup_times_exported_onnx_models(monkeypatch):
    """The latency search exports each candidate and times it against the unpruned model; here the timer reports a
    latency proportional to the exported model's size, so the search must land where a MACs search lands."""
    from tao_cv.prune import search

    timed = []

    def fake_latencies(paths, hw, batch, **_):
        timed.append((batch, [p.name for p in paths]))
        return [float(p.stat().st_size) for p in paths]

    monkeypatch.setattr(search, "ort_latencies_ms", fake_latencies)
    net = residual_net(STEM, CONV_B, a_norms=[1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    scored = score_groups(net, EXAMPLE)
    threshold, ratio = search_threshold(net, EXAMPLE, scored, 0.7, "latency", granularity=1, min_filters=1,
                                        hw=(8, 8), speed_batch_size=4)
    assert ratio <= 0.7 and 0 < threshold <= 1
    assert timed and all(batch == 4 and names == ["unpruned.onnx", "trial.onnx"] for batch, names in timed)
