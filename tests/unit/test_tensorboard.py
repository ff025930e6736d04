"""train.tensorboard: event files with the losses, lr, every validation metric and preview images, and a resumed
run that continues the same curves (events a killed run wrote past its checkpoint are purged)."""

import shutil

import pytest
import torch
from PIL import Image

from tao_cv.engine.trainer import fit, make_train_loader
from tao_inference.contract import ModelInfo
from tao_inference.spec.schemas import TrainSpec
from tao_inference.status import run_status

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def _fit(results_dir, epochs, tensorboard=True):
    torch.manual_seed(0)
    images, labels = torch.randn(40, 3, 8, 8), torch.randint(0, 3, (40,))
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(144, 3))
    spec = TrainSpec(num_epochs=epochs, batch_size=2, device="cpu", tensorboard=tensorboard)  # 20 steps per epoch
    loader = make_train_loader(torch.utils.data.TensorDataset(images, labels), 2, 0, spec.seed)

    def validate(model):
        with torch.no_grad():
            logits = model(images)
        return {"acc": float((logits.argmax(1) == labels).float().mean()),
                "loss": float(torch.nn.functional.cross_entropy(logits, labels))}

    def preview(model):
        return [("first", Image.new("RGB", (12, 10), (200, 30, 30)))]

    info = ModelInfo("test", "tiny", ("a", "b", "c"), 8, 8, (0, 0, 0), (1, 1, 1))
    with run_status(results_dir, "training") as status:
        fit(model, train_loader=loader, validate=validate, spec=spec, results_dir=results_dir, info=info,
            monitor="acc", status=status, loss_fn=torch.nn.functional.cross_entropy, preview=preview)


def _events(results_dir):
    events = event_accumulator.EventAccumulator(str(results_dir / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    return events


def test_event_files_hold_losses_metrics_lr_and_images(tmp_path):
    _fit(tmp_path, epochs=2)
    events = _events(tmp_path)
    tags = events.Tags()
    assert {"train/train_loss", "val/acc", "val/loss", "train/lr", "step/train_loss", "step/lr"} <= set(tags["scalars"])
    assert [e.step for e in events.Scalars("val/acc")] == [20, 40]  # keyed by optimizer steps, at each epoch's end
    assert [e.step for e in events.Scalars("step/train_loss")] == [10, 20, 30, 40]
    log = (tmp_path / "training_log.csv").read_text().splitlines()
    assert f"{events.Scalars('train/train_loss')[1].value:.5f}"[:6] in log[2]  # the CSV's epoch 2 loss
    image = events.Images("val_images/first")
    assert [e.step for e in image] == [20, 40] and (image[0].width, image[0].height) == (12, 10)


def test_a_resumed_run_continues_the_same_curves(tmp_path):
    _fit(tmp_path, epochs=2)
    # As if the run had been killed after logging epoch 2 but before its latest.pth: resume redoes epoch 2.
    shutil.copy(tmp_path / "checkpoints" / "epoch_001.pth", tmp_path / "checkpoints" / "latest.pth")
    _fit(tmp_path, epochs=3)
    events = _events(tmp_path)
    assert [e.step for e in events.Scalars("val/acc")] == [20, 40, 60]  # epoch 2 once, not a fork
    assert [e.step for e in events.Scalars("step/train_loss")] == [10, 20, 30, 40, 50, 60]
    assert len(list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))) == 2


def test_tensorboard_false_writes_no_event_files(tmp_path):
    _fit(tmp_path, epochs=1, tensorboard=False)
    assert not (tmp_path / "tensorboard").exists() and (tmp_path / "training_log.csv").is_file()
