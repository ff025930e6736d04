"""Shared fixtures: the venv's `tao` CLI and a tiny generated dataset."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TAO = str(Path(sys.executable).parent / "tao")


def run_tao(*args, cwd=None, check=True, env=None):
    """Run the real CLI; return the CompletedProcess (stdout+stderr merged into .stdout)."""
    full_env = {**os.environ, "TAO_DOCKER_DISABLE": "1", "COLUMNS": "200", **(env or {})}
    result = subprocess.run([TAO, *map(str, args)], cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"tao {' '.join(map(str, args))} failed ({result.returncode}):\n{result.stdout}")
    return result


def board_tags(results_dir):
    """The scalar and image tags of a training run's TensorBoard event files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(Path(results_dir) / "tensorboard"))
    events.Reload()
    return set(events.Tags()["scalars"]), set(events.Tags()["images"])


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """6 classes x (8 train, 3 val, 3 test) synthetic 32x32 images."""
    root = tmp_path_factory.mktemp("data") / "sample"
    from tao_cv.data.sample import generate_sample

    generate_sample(root, per_class=(8, 3, 3), size=32)
    return root


@pytest.fixture(scope="session")
def tiny_spec(tmp_path_factory, tiny_data):
    spec = tmp_path_factory.mktemp("spec") / "tiny.yaml"
    spec.write_text(f"""\
dataset:
  root: {tiny_data}
  image_size: 32
  num_workers: 0
model:
  backbone: resnet18
train:
  num_epochs: 2
  batch_size: 16
  optimizer:
    name: sgd
    lr: 0.05
evaluate:
  split: test
  top_k: 3
export:
  cal_batches: 2
  cal_batch_size: 4
""")
    return spec
