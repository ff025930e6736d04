"""TensorBoard event files of a training run, under RESULTS_DIR/tensorboard (torch.utils.tensorboard).

Everything is keyed by optimizer steps done (1, 2, ...): the step loss and lr every `STEP_EVERY` steps, and at each
epoch's last step the epoch's train loss, every validation metric, lr, throughput and a few annotated validation
images where the task draws them. One axis for all lets a resumed run open the same folder with `purge_step` just
past its checkpoint's last step: TensorBoard then drops whatever a killed run had logged beyond that checkpoint, of
every tag, and the curves continue without a fork. status.json and training_log.csv are written as before.
"""

from pathlib import Path

import numpy as np

STEP_EVERY = 10  # optimizer steps between step-level scalars (the progress bar's loss refresh)


class TrainingBoard:
    """One run's SummaryWriter, or nothing at all when `enabled` is false (or on ranks other than 0)."""

    def __init__(self, results_dir, enabled, steps_done=0):
        self.writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(Path(results_dir) / "tensorboard"),
                                        purge_step=steps_done + 1 if steps_done else None)

    def step(self, steps_done, loss, lr):
        """`loss`: the step's loss tensor (read only every STEP_EVERY steps: reading waits for the device)."""
        if self.writer is not None and steps_done % STEP_EVERY == 0:
            self.writer.add_scalar("step/train_loss", loss.item(), steps_done)
            self.writer.add_scalar("step/lr", lr, steps_done)

    def epoch(self, steps_done, row, images=()):
        """`row`: training_log.csv's row of the epoch that ended at `steps_done`; `images`: (name, PIL image)
        pairs to show for it."""
        if self.writer is None:
            return
        for key, value in row.items():
            if not isinstance(value, (int, float)):
                continue
            group = "val" if key.startswith("val_") else "train"
            name = key[4:] if key.startswith("val_") else key
            self.writer.add_scalar(f"{group}/{name}", value, steps_done)
        for name, image in images:
            self.writer.add_image(f"val_images/{name}", np.asarray(image.convert("RGB")), steps_done,
                                  dataformats="HWC")
        self.writer.flush()

    def close(self):
        if self.writer is not None:
            self.writer.close()
