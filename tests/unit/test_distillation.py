"""Knowledge distillation: the losses are zero where student and teacher agree and pull the student toward the
teacher; a retrain with a teacher ends closer to it."""

import torch

from tao_cv.engine.distillation import Distillation, binary_kl, softmax_kd
from tao_cv.models.detectnet_v2 import detectnet_kd_loss
from tao_cv.models.retinanet import retinanet_kd_loss


def test_softmax_kd_is_zero_on_agreement_and_its_gradient_points_to_the_teacher():
    teacher = torch.tensor([[4.0, 0.0, -2.0], [0.0, 1.0, 3.0]])
    assert softmax_kd(teacher.clone(), teacher, 4.0).abs() < 1e-6
    student = torch.zeros(2, 3, requires_grad=True)
    loss = softmax_kd(student, teacher, 2.0)
    loss.backward()
    assert loss > 0
    stepped = student.detach() - 0.5 * student.grad
    assert softmax_kd(stepped, teacher, 2.0) < loss
    assert (stepped.argmax(1) == teacher.argmax(1)).all()


def test_binary_kl_and_the_detector_kd_losses_vanish_only_where_outputs_agree():
    p = torch.rand(2, 3, 4, 5)
    assert binary_kl(p, p).abs().max() < 1e-6 and binary_kl(p, 1 - p).sum() > 0
    coverage, bbox = torch.rand(2, 3, 4, 5), torch.randn(2, 12, 4, 5)
    assert detectnet_kd_loss((coverage, bbox), (coverage, bbox)).abs() < 1e-6
    assert detectnet_kd_loss((coverage, bbox + 1), (coverage, bbox)) > 0.1
    logits, boxes = torch.randn(2, 50, 3) * 3, torch.randn(2, 50, 4)
    assert retinanet_kd_loss((logits, boxes), (logits, boxes), 2.0).abs() < 1e-5
    assert retinanet_kd_loss((-logits, boxes), (logits, boxes), 2.0) > 0.1


def test_distillation_alone_makes_the_student_match_its_teacher():
    torch.manual_seed(0)
    teacher, student = torch.nn.Linear(6, 4), torch.nn.Linear(6, 4)
    images = torch.randn(64, 6)
    kd = Distillation(teacher, alpha=1.0, temperature=1.0, kd_loss=softmax_kd)
    optimizer = torch.optim.SGD(student.parameters(), lr=0.5)
    before = softmax_kd(student(images), teacher(images), 1.0).item()
    for _ in range(200):
        # alpha 1: the labels' loss (a constant here) has no weight; only the teacher's term trains
        loss = kd.blend(torch.tensor(123.0), images, student(images))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        assert softmax_kd(student(images), teacher(images), 1.0) < before / 10
        assert (student(images).argmax(1) == teacher(images).argmax(1)).float().mean() > 0.95
    assert not any(p.requires_grad for p in teacher.parameters()) and not teacher.training
