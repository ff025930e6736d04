"""Classification metrics from logits: top-k accuracy, per-class precision/recall/F1, confusion matrix."""

import numpy as np
import torch


@torch.no_grad()
def collect_logits(predict, loader):
    """Run `predict(batch) -> logits` over `loader`; return (logits, targets) as numpy arrays."""
    outputs, targets = [], []
    for inputs, labels in loader:
        outputs.append(np.asarray(predict(inputs), dtype=np.float32))
        targets.append(labels.numpy())
    return np.concatenate(outputs), np.concatenate(targets)


def classification_metrics(logits, targets, class_names, top_k=5):
    n = len(class_names)
    k = min(top_k, n)
    ranked = np.argsort(-logits, axis=1)
    predicted = ranked[:, 0]
    matrix = np.zeros((n, n), dtype=np.int64)
    np.add.at(matrix, (targets, predicted), 1)
    per_class = []
    for i, name in enumerate(class_names):
        tp, predicted_i, actual_i = matrix[i, i], matrix[:, i].sum(), matrix[i, :].sum()
        precision = tp / predicted_i if predicted_i else 0.0
        recall = tp / actual_i if actual_i else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append({"class": name, "precision": float(precision), "recall": float(recall), "f1": float(f1),
                          "support": int(actual_i)})
    return {
        "top1": float((predicted == targets).mean()),
        f"top{k}": float((ranked[:, :k] == targets[:, None]).any(axis=1).mean()),
        "num_images": int(len(targets)),
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
        "class_names": list(class_names),
    }
