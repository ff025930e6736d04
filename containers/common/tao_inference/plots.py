"""Result pictures that evaluate writes: the confusion matrix and precision-recall curves (matplotlib, Agg)."""

import numpy as np

from .fileio import atomic_path


def figure_module():
    """matplotlib.pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, dpi=90):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    figure_module().close(fig)


def plot_pr_curves(path, per_class):
    plt = figure_module()
    fig, ax = plt.subplots(figsize=(6, 5))
    for name, v in per_class.items():
        if v["AP"] is not None:
            ax.plot(np.concatenate([[0], v["recall"]]), np.concatenate([[1], v["precision"]]),
                    label=f"{name} (AP {v['AP']:.3f})")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="precision-recall")
    ax.legend(loc="lower left")
    save_figure(fig, path, dpi=100)


def plot_confusion_matrix(path, matrix, class_names):
    plt = figure_module()
    n = len(class_names)
    fig, axis = plt.subplots(figsize=(1.2 + 0.6 * n, 1 + 0.5 * n))
    image = axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(n), class_names, rotation=45, ha="right")
    axis.set_yticks(range(n), class_names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            axis.text(j, i, int(matrix[i][j]), ha="center", va="center", fontsize=8,
                      color="white" if matrix[i][j] > max(map(max, matrix)) / 2 else "black")
    fig.colorbar(image)
    fig.tight_layout()
    save_figure(fig, path)


def plot_sensitivity(path, rows, baseline, metric):
    """Each group's validation `metric` with it pruned alone, against the unpruned `baseline`: the longest bars are
    the layers to keep (`-el`)."""
    plt = figure_module()
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.22 * len(rows)))
    drops = [baseline - row["metric"] for row in rows]
    ax.barh(range(len(rows)), drops, color=["#c0392b" if d > 0.01 else "#7f8c8d" for d in drops])
    ax.set_yticks(range(len(rows)), [f"{row['root']} ({row['before']}→{row['after']})" for row in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel=f"val {metric} lost with this group pruned alone (unpruned {baseline:.4f})", title="prune sensitivity")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
