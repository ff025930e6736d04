"""What a run leaves for people and tools: TAO-style status.json lines, a CSV per epoch, curves.png."""

import csv
import datetime
import io
import json
from pathlib import Path

from ..fileio import atomic_path, disk_full_error, make_dirs, write_text
from .distributed import is_main


class StatusLogger:
    """Appends TAO's JSON-lines status records (one JSON object per line) to RESULTS_DIR/status.json.
    In a multi-process run only rank 0 writes; the other ranks' records go nowhere."""

    def __init__(self, path):
        self.path = Path(path)
        make_dirs(self.path.parent)

    def write(self, status, message="", **fields):
        if not is_main():
            return
        now = datetime.datetime.now()
        record = {"date": now.strftime("%-m/%-d/%Y"), "time": now.strftime("%H:%M:%S"), "status": status,
                  "verbosity": "INFO", "message": message, **fields}
        try:
            with open(self.path, "a") as handle:
                handle.write(json.dumps(record) + "\n")
                handle.flush()
        except OSError as exc:
            if status != "FAILURE":  # recording a failure must not hide it (the disk may be full): it is printed
                raise disk_full_error(exc, self.path) or exc


def write_csv(path, rows):
    if not rows:
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(path, history):
    """Loss, validation metric and learning rate per epoch."""
    plt = _figure()
    epochs = [row["epoch"] for row in history]
    panels = [("loss", ["train_loss", "val_loss"]), ("metric", [k for k in history[0] if k.startswith("val_") and k != "val_loss"]), ("lr", ["lr"])]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for axis, (title, keys) in zip(axes, panels):
        for key in keys:
            if key in history[0]:
                axis.plot(epochs, [row[key] for row in history], marker="o", label=key)
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.legend()
        axis.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def plot_confusion_matrix(path, matrix, class_names):
    plt = _figure()
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
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
