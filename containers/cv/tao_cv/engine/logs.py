"""What a training run leaves for people beside status.json (tao_inference.status): a CSV per epoch, curves.png."""

import csv
import io

from tao_inference.fileio import write_text
from tao_inference.plots import figure_module, save_figure


def write_csv(path, rows):
    if not rows:
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def plot_curves(path, history):
    """Loss, validation metric and learning rate per epoch."""
    plt = figure_module()
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
    save_figure(fig, path)
