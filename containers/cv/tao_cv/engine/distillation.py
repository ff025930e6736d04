"""Knowledge distillation: a retrain (of a pruned model, typically) that also learns the outputs of a teacher
(the unpruned model) on the same augmented images. The teacher runs frozen in eval mode beside the student, in
every process of a multi-process run; what "the same outputs" means is the task's `kd_loss`."""

import torch
from torch import nn


class Distillation:
    def __init__(self, teacher, alpha, temperature, kd_loss):
        self.teacher = teacher.eval().requires_grad_(False)
        self.alpha, self.temperature, self.kd_loss = alpha, temperature, kd_loss

    def to(self, device):
        self.teacher.to(device)
        return self

    def blend(self, task_loss, inputs, outputs):
        """(1 - alpha) x the labels' loss + alpha x the distance of the student's outputs to the teacher's."""
        with torch.no_grad():
            teacher_outputs = self.teacher(inputs)
        return (1 - self.alpha) * task_loss + self.alpha * self.kd_loss(outputs, teacher_outputs, self.temperature)


def softmax_kd(student_logits, teacher_logits, temperature):
    """Hinton et al.'s KL(teacher || student) on temperature-softened class distributions, x T² so that its
    gradients keep their scale as T changes."""
    t = temperature
    return nn.functional.kl_div(nn.functional.log_softmax(student_logits.float() / t, 1),
                                nn.functional.log_softmax(teacher_logits.float() / t, 1),
                                reduction="batchmean", log_target=True) * t * t


def binary_kl(student_probs, teacher_probs):
    """Element-wise KL between Bernoulli distributions: 0 where the student's probability is the teacher's."""
    s, t = student_probs.float().clamp(1e-6, 1 - 1e-6), teacher_probs.float().clamp(1e-6, 1 - 1e-6)
    return t * (t.log() - s.log()) + (1 - t) * ((1 - t).log() - (1 - s).log())
