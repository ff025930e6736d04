import numpy as np
import pytest

from tao_inference.metrics import classification_metrics
from tao_cv.engine.trainer import improves, lr_factor
from tao_inference.spec.schemas import SchedulerSpec


def test_classification_metrics_hand_computed():
    # 4 images, 3 classes; predictions (argmax): 0, 1, 1, 2 ; targets 0, 1, 2, 2
    logits = np.array([[3, 1, 0], [0, 2, 1], [0, 2, 1.5], [0, 1, 3]], dtype=np.float32)
    targets = np.array([0, 1, 2, 2])
    m = classification_metrics(logits, targets, ["a", "b", "c"], top_k=2)
    assert m["top1"] == 0.75 and m["top2"] == 1.0
    assert m["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    b, c = m["per_class"][1], m["per_class"][2]
    assert b["precision"] == 0.5 and b["recall"] == 1.0
    assert c["precision"] == 1.0 and c["recall"] == 0.5 and c["support"] == 2


def test_lr_schedules():
    cosine = SchedulerSpec(name="cosine", warmup_epochs=1, min_lr_ratio=0.0)
    assert lr_factor(0, 100, 10, cosine) == pytest.approx(0.1)  # warm-up
    assert lr_factor(9, 100, 10, cosine) == pytest.approx(1.0)
    assert lr_factor(99, 100, 10, cosine) < 0.01
    step = SchedulerSpec(name="step", step_size=2, gamma=0.1)
    assert lr_factor(19, 100, 10, step) == 1.0 and lr_factor(20, 100, 10, step) == pytest.approx(0.1)
    soft = SchedulerSpec(name="soft_anneal", soft_start=0.2, annealing_start=0.6, min_lr_ratio=0.01)
    assert lr_factor(0, 100, 10, soft) == pytest.approx(0.01)
    assert lr_factor(40, 100, 10, soft) == 1.0
    assert lr_factor(99, 100, 10, soft) < 0.02
    multistep = SchedulerSpec(name="multistep", warmup_epochs=1, milestones=[0.5, 0.8], gamma=0.1)
    assert lr_factor(0, 100, 10, multistep) == pytest.approx(0.1)  # warm-up first
    assert lr_factor(49, 100, 10, multistep) == 1.0 and lr_factor(50, 100, 10, multistep) == pytest.approx(0.1)
    assert lr_factor(85, 100, 10, multistep) == pytest.approx(0.01)


def test_freeze_backbone_trains_only_the_head():
    from tao_cv.engine.trainer import _set_trainable
    from tao_cv.models import build_classifier

    model = build_classifier("mobilenet_v3_small", 3)
    _set_trainable(model, ["classifier.3"], only_heads=True)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"classifier.3.weight", "classifier.3.bias"}
    _set_trainable(model, ["classifier.3"], only_heads=False)
    assert all(p.requires_grad for p in model.parameters())


def test_best_epoch_ties_go_to_the_lower_validation_loss():
    best = {"value": 0.99, "loss": 0.15, "epoch": 7}
    assert improves({"top1": 0.99, "loss": 0.13}, best, "top1")  # same accuracy, lower loss: the later epoch
    assert not improves({"top1": 0.99, "loss": 0.16}, best, "top1")
    assert not improves({"top1": 0.98, "loss": 0.01}, best, "top1")  # accuracy decides first
    assert improves({"top1": 0.995, "loss": 0.9}, best, "top1")
    assert improves({"top1": 0.5}, None, "top1")
    assert not improves({"mAP": 0.5}, {"value": 0.5, "epoch": 3}, "mAP")  # no loss reported: the first tie stays
    assert improves({"top1": 0.99, "loss": 0.2}, {"value": 0.99, "epoch": 3}, "top1")  # best from an older checkpoint
