import pytest
import torch
from torch import nn

from tao_cv.engine.profile import count_macs, count_params
from tao_inference.errors import UserError
from tao_cv.models import build_classifier
from tao_cv.prune.tao_pruner import channels_to_keep, equalize, normalize, prune_model


def test_channels_to_keep_threshold_min_filters_and_granularity():
    scores = torch.tensor([0.9, 0.8, 0.05, 0.04, 0.7, 0.03, 0.02, 0.01, 0.6, 0.5])
    assert channels_to_keep(scores, threshold=0.1, granularity=1, min_filters=1) == 5
    assert channels_to_keep(scores, threshold=0.1, granularity=4, min_filters=1) == 8  # 5 rounded up to 8
    assert channels_to_keep(scores, threshold=0.1, granularity=8, min_filters=1) == 8
    assert channels_to_keep(scores, threshold=0.1, granularity=12, min_filters=1) == 10  # 12 capped at depth
    assert channels_to_keep(scores, threshold=0.95, granularity=1, min_filters=3) == 3  # none above: min wins
    assert channels_to_keep(scores, threshold=0.95, granularity=1, min_filters=64) == 10  # min capped at depth


def test_normalizers():
    scores = torch.tensor([1.0, 2.0, 4.0])
    assert torch.allclose(normalize(scores, "max"), torch.tensor([0.25, 0.5, 1.0]))
    l2 = normalize(scores, "L2")
    assert torch.allclose(l2, scores / scores.norm() * 3)


@pytest.mark.parametrize("criterion,expected", [
    ("union", [0.9, 0.8, 0.3]),
    ("intersection", [0.1, 0.2, 0.3]),
    ("arithmetic_mean", [0.5, 0.5, 0.3]),
    ("geometric_mean", [0.3, 0.4, 0.3]),
])
def test_equalization_criteria(criterion, expected):
    a, b = torch.tensor([0.9, 0.2, 0.3]), torch.tensor([0.1, 0.8, 0.3])
    assert torch.allclose(equalize([a, b], criterion), torch.tensor(expected), atol=1e-6)


class ResidualNet(nn.Module):
    """stem -> (conv_a, conv_b) -> stem + conv_b (residual add couples stem and conv_b) -> head."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(8)
        self.conv_a = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn_a = nn.BatchNorm2d(8)
        self.conv_b = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn_b = nn.BatchNorm2d(8)
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        x = torch.relu(self.bn0(self.stem(x)))
        y = self.bn_b(self.conv_b(torch.relu(self.bn_a(self.conv_a(x)))))
        return self.head((x + y).mean((2, 3)))


def residual_net(stem_norms, b_norms, a_norms=None):
    """Filters scaled so that their L2 norms are the given values."""
    torch.manual_seed(0)
    net = ResidualNet()
    for conv, norms in ((net.stem, stem_norms), (net.conv_b, b_norms), (net.conv_a, a_norms)):
        if norms is None:
            continue
        with torch.no_grad():
            w = conv.weight
            w.copy_(w / w.flatten(1).norm(dim=1)[:, None, None, None] * torch.tensor(norms)[:, None, None, None])
    return net


STEM = [1.0, 0.9, 0.1, 0.1, 0.6, 0.1, 0.1, 0.1]
CONV_B = [0.1, 0.1, 0.1, 0.8, 1.0, 0.1, 0.1, 0.7]


@pytest.mark.parametrize("criterion,threshold,kept", [
    # per-layer max-normalized scores: stem == STEM, conv_b == CONV_B (both already peak at 1.0)
    ("union", 0.5, [0, 1, 3, 4, 7]),    # max   = [1, .9, .1, .8, 1, .1, .1, .7]
    ("intersection", 0.5, [4]),         # min   = [.1, .1, .1, .1, .6, .1, .1, .1]
    ("arithmetic_mean", 0.52, [0, 4]),  # mean  = [.55, .5, .1, .45, .8, .1, .1, .4]
    ("geometric_mean", 0.29, [0, 1, 4]),  # gmean = [.32, .3, .1, .28, .77, .1, .1, .26]
])
def test_residual_group_is_pruned_as_one(criterion, threshold, kept):
    net = residual_net(STEM, CONV_B)
    expected_stem, expected_b = net.stem.weight[kept].clone(), net.conv_b.weight[kept][:, :].clone()
    prune_model(net, torch.zeros(1, 3, 8, 8), threshold=threshold, equalization=criterion, granularity=1,
                min_filters=1)
    # stem and conv_b are coupled by the add: one kept set, applied to both (and their BNs)
    assert net.stem.out_channels == net.conv_b.out_channels == net.bn0.num_features == len(kept)
    assert torch.equal(net.stem.weight, expected_stem)
    assert torch.equal(net.conv_b.weight, expected_b[:, :, :, :])
    assert net.head.out_features == 4 and net.head.in_features == len(kept)  # the head is never pruned
    assert net(torch.zeros(2, 3, 8, 8)).shape == (2, 4)


def test_groups_raised_to_min_filters_are_flagged():
    # conv_a: one filter above 0.5 (would keep 1), floor 2 raises it; residual group (union): 5 above 0.5, floor 2 unused
    net = residual_net(STEM, CONV_B, a_norms=[1.0, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05])
    groups = prune_model(net, torch.zeros(1, 3, 8, 8), threshold=0.5, granularity=1, min_filters=2)
    flags = {layer: (group["after"], group["at_min_filters"]) for group in groups for layer in group["layers"]}
    assert flags["conv_a"] == (2, True)
    assert flags["stem"] == (5, False)


def test_excluded_member_keeps_whole_group():
    net = residual_net(STEM, CONV_B, a_norms=[1.0, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05])
    prune_model(net, torch.zeros(1, 3, 8, 8), threshold=0.5, granularity=1, min_filters=1, excluded_layers=["conv_b"])
    assert net.stem.out_channels == net.conv_b.out_channels == 8  # group of the excluded conv_b untouched
    assert net.conv_a.out_channels == 1  # other groups are still pruned
    with pytest.raises(UserError, match="did you mean conv_b"):
        prune_model(residual_net(STEM, CONV_B), torch.zeros(1, 3, 8, 8), excluded_layers=["conv_bb"])


def test_efficientnet_lite0_prunes_depthwise_and_residual_groups():
    model = build_classifier("efficientnet_lite0", 5).eval()
    before_params, before_macs = count_params(model), count_macs(model, 64)
    assert before_macs > 30e6  # FlopCounterMode sees every convolution (~ 196 M at 160^2 scales to ~ 50 M at 64^2)
    prune_model(model, torch.zeros(1, 3, 64, 64), threshold=0.9, granularity=8, min_filters=16)
    block = model._blocks[5]  # expand -> depthwise share one kept set
    assert block._expand_conv.out_channels == block._depthwise_conv.out_channels == block._depthwise_conv.groups
    assert block._expand_conv.out_channels % 8 == 0
    # residual blocks of one stage keep matching widths
    assert model._blocks[3]._project_conv.out_channels == model._blocks[4]._project_conv.out_channels
    assert count_params(model) < before_params and count_macs(model, 64) < before_macs
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 5)


def test_retinanet_group_norm_head_keeps_its_towers_and_the_pruned_model_runs():
    from tao_cv.models.retinanet import RetinaNetDetector
    from tao_cv.tasks import ADAPTERS

    model = RetinaNetDetector("efficientnet_lite0", 3, 96, 128, fpn_channels=64, head_norm="group").eval()
    before = count_params(model)
    prune_model(model, torch.zeros(1, 3, 96, 128), threshold=0.99, normalizer="max", equalization="union",
                granularity=8, min_filters=16, excluded_layers=[], heads=ADAPTERS["retinanet"].heads(model))
    assert count_params(model) < before / 2  # the backbone and FPN were pruned ...
    norms = [m for m in model.net.head.modules() if isinstance(m, nn.GroupNorm)]
    assert len(norms) == 8 and all(m.num_channels == 64 for m in norms)  # ... the GroupNorm towers were not
    cls_logits, regression = model(torch.zeros(2, 3, 96, 128))
    assert cls_logits.shape[-1] == 3 and regression.shape[-1] == 4


def test_prune_flags_not_given_come_from_the_spec_prune_section_then_the_defaults(tmp_path):
    import argparse

    from tao_inference.spec.schemas import ClassificationSpec
    from tao_cv.tasks.flags import PRUNE_FLAGS, resolve_prune_flags

    spec = tmp_path / "spec.yaml"
    spec.write_text("prune:\n  threshold: 0.5\n  granularity: 16\n  excluded_layers: [conv1, fc]\n")
    given = argparse.Namespace(experiment_spec=spec, overrides=["prune.criterion=taylor"], **dict.fromkeys(PRUNE_FLAGS))
    given.pruning_granularity = 4  # a flag beats the spec
    resolve_prune_flags(given, ClassificationSpec)
    assert (given.pruning_threshold, given.pruning_granularity, given.excluded_layers) == (0.5, 4, "conv1,fc")
    assert (given.normalizer, given.equalization_criterion, given.min_num_filters) == ("max", "union", 16)
    assert given.criterion == "taylor"  # an override of the spec counts as the spec

    bare = argparse.Namespace(experiment_spec=None, overrides=[], **dict.fromkeys(PRUNE_FLAGS))
    resolve_prune_flags(bare, ClassificationSpec)
    assert (bare.pruning_threshold, bare.pruning_granularity, bare.excluded_layers, bare.criterion) == (0.1, 8, "", "l2")

    spec.write_text("prune:\n  granularity: 0\n")
    with pytest.raises(UserError, match=r"spec.yaml:2: 'prune.granularity' is 0; expected a value >= 1"):
        resolve_prune_flags(argparse.Namespace(experiment_spec=spec, overrides=[], **dict.fromkeys(PRUNE_FLAGS)),
                            ClassificationSpec)


def test_retraining_a_pruned_model_checks_classes_and_says_which_spec_keys_it_replaces(tmp_path, capsys):
    from types import SimpleNamespace

    from tao_cv.engine.checkpoint import save_checkpoint
    from tao_cv.tasks import ADAPTERS
    from tao_cv.tasks.skeleton import read_pruned_model
    from tao_inference.contract import ModelInfo

    path = tmp_path / "pruned.pth"
    info = ModelInfo("classification", "resnet18", ("a", "b"), 8, 8, (0, 0, 0), (1, 1, 1), pruned=True)
    save_checkpoint(path, nn.Conv2d(3, 4, 1), info)
    adapter = ADAPTERS["classification"]
    same = SimpleNamespace(pruned_model=path, backbone="resnet18", pretrained=None)
    assert read_pruned_model(adapter, same, ["a", "b"])["info"].backbone == "resnet18"
    assert "note:" not in capsys.readouterr().out
    other = SimpleNamespace(pruned_model=path, backbone="efficientnet_lite0", pretrained="imagenet")
    read_pruned_model(adapter, other, ["a", "b"])
    out = " ".join(capsys.readouterr().out.split())
    assert (f"note: model.pruned_model {path} is a pruned resnet18 with its own weights; model.backbone "
            "(efficientnet_lite0) and model.pretrained (imagenet) not used") in out
    with pytest.raises(UserError, match=r"was trained on classes \['a', 'b'\], the dataset has \['a', 'c'\]"):
        read_pruned_model(adapter, same, ["a", "c"])


class _WritesAFile:
    """What a hostile checkpoint holds: unpickling it runs code (here: creates a file)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_checkpoint_whose_pickle_runs_code_is_refused_without_running_it(tmp_path):
    from tao_cv.engine.checkpoint import read_checkpoint
    from tao_cv.download import fetch_state_dict

    marker = tmp_path / "pwned"
    bad = tmp_path / "bad.pth"
    torch.save({"format": "tao_cv.checkpoint/1", "meta": {}, "state_dict": {}, "payload": _WritesAFile(marker)}, bad)
    for load in (read_checkpoint, fetch_state_dict):
        with pytest.raises(UserError, match=f"{bad} holds Python objects that only unpickling code can rebuild"):
            load(str(bad))
    assert not marker.exists()


@pytest.mark.parametrize("build,hw", [(lambda: build_classifier("efficientnet_lite0", 5), (64, 64)),
                                      (lambda: build_classifier("resnet18", 5), (64, 64))])
def test_a_pruned_checkpoint_is_data_and_rebuilds_to_the_same_network(build, hw, tmp_path):
    from tao_cv.engine.checkpoint import model_from_checkpoint, read_checkpoint, save_checkpoint
    from tao_inference.contract import ModelInfo

    torch.manual_seed(0)
    model = build().eval()
    prune_model(model, torch.zeros(1, 3, *hw), threshold=0.99, granularity=8, min_filters=8)
    info = ModelInfo("classification", "x", tuple("abcde"), *hw, (0, 0, 0), (1, 1, 1), pruned=True)
    save_checkpoint(tmp_path / "p.pth", model, info)
    payload = read_checkpoint(tmp_path / "p.pth")
    assert "module" not in payload and payload["info"].network["layer_widths"]
    rebuilt = model_from_checkpoint(payload, lambda info: build()).eval()
    x = torch.randn(2, 3, *hw)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), model(x))
    assert count_params(rebuilt) == count_params(model) < count_params(build())
