"""A TAO user's own spec files and mounts file, through the real CLI on the local runtime: train straight from a
TAO classification spec, convert a DetectNet_v2 one and train from the result, and `tao spec show` / errors."""

import json
import shutil
from pathlib import Path

import pytest

from conftest import run_tao

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).parents[1] / "fixtures" / "tao_specs"


def mounted_workspace(tmp_path):
    """A host folder mounted at /workspace/tao-experiments, as TAO's tutorials lay it out."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    mounts = tmp_path / "mounts.json"
    mounts.write_text(json.dumps({"Mounts": [{"source": str(workspace), "destination": "/workspace/tao-experiments"}]}))
    return workspace, {"LAUNCHER_MOUNTS": str(mounts)}


def test_train_from_a_tao_classification_spec_and_its_container_paths(tiny_data, tmp_path):
    workspace, env = mounted_workspace(tmp_path)
    shutil.copytree(tiny_data, workspace / "data")
    out = run_tao("classification", "train", "-e", FIXTURES / "classification_spec.cfg",
                  "-r", "/workspace/tao-experiments/results", env=env)
    assert "TAO classification spec (protobuf text): 19 settings mapped to ours" in out.stdout
    status = [json.loads(line) for line in (workspace / "results" / "status.json").read_text().splitlines()]
    assert status[-1]["status"] == "SUCCESS" and status[-2]["epoch"] == 1  # n_epochs: 1
    assert (workspace / "results" / "weights" / "best.pth").is_file()
    # the spec's eval_config.model_path is where train wrote: evaluate needs no -m
    out = run_tao("classification", "evaluate", "-e", FIXTURES / "classification_spec.cfg",
                  "-r", "/workspace/tao-experiments/eval", env=env)
    assert json.loads((workspace / "eval" / "evaluation.json").read_text())["num_images"] == 18

    # without the mount, the container paths map nowhere: an error naming the key, not a traceback
    (tmp_path / "empty.json").write_text('{"Mounts": []}')
    out = run_tao("classification", "train", "-e", FIXTURES / "classification_spec.cfg", "-r", tmp_path / "r",
                  env={"LAUNCHER_MOUNTS": str(tmp_path / "empty.json")}, check=False)
    assert out.returncode == 2 and "(TAO key 'train_config.train_dataset_path')" in out.stdout
    assert "no mount of" in out.stdout and "Traceback" not in out.stdout


def test_convert_a_tao_detectnet_v2_spec_then_train_from_ours(tmp_path):
    workspace, env = mounted_workspace(tmp_path)
    run_tao("detectnet_v2", "generate_sample", "-o", workspace / "data", "--count", "8,4,4", "--image_size", "64")
    ours = tmp_path / "ours.yaml"
    out = run_tao("spec", "convert", "-i", FIXTURES / "detectnet_v2_train.txt", "-o", ours, env=env)
    assert "30 settings" in out.stdout  # visualizer's enabled and num_images among them
    text = ours.read_text()
    assert "tensorboard_images: 2  # TAO: training_config.visualizer.num_images (" in text
    assert "batch_size: 4  # TAO: training_config.batch_size_per_gpu (" in text
    assert "# TAO keys ignored (no effect here):" in text and "Keras/TLT" in text
    shown = run_tao("spec", "show", "-e", ours, "--task", "detectnet_v2", env=env).stdout
    direct = run_tao("spec", "show", "-e", FIXTURES / "detectnet_v2_train.txt", env=env).stdout
    resolved = "# the resolved detectnet_v2 spec"
    assert shown[shown.index(resolved):] == direct[direct.index(resolved):]  # the round trip reads the same
    assert "model.backbone" in direct and "<- model_config.arch" in direct and "ignored, no effect here" in direct
    run_tao("detectnet_v2", "train", "-e", ours, "-r", tmp_path / "run", env=env)
    status = [json.loads(line) for line in (tmp_path / "run" / "status.json").read_text().splitlines()]
    assert status[-1]["status"] == "SUCCESS" and "val_mAP" in status[-2]["kpi"]


def test_spec_show_refuses_an_invalid_spec_without_starting_work(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text((FIXTURES / "classification_spec.cfg").read_text().replace("n_epochs: 1", "n_epochs: 1 magic: 2"))
    out = run_tao("spec", "show", "-e", bad, check=False)
    assert out.returncode == 2 and "train_config.magic — no mapping for this TAO key" in out.stdout
    assert "magic" in out.stdout.split("not supported")[1]  # the table lists it before the error
    out = run_tao("spec", "show", "-e", bad, "--allow_unmapped", "train_config.train_dataset_path=/tmp",
                  "train_config.val_dataset_path=/tmp", "eval_config.eval_dataset_path=/tmp",
                  "eval_config.model_path=/tmp/m.pth", check=False)
    assert out.returncode == 0 and "num_epochs: 1" in out.stdout
    out = run_tao("spec", "show", "-e", FIXTURES / "yolo_v3_train.txt", check=False)
    assert out.returncode == 2 and "network yolo_v3 is not implemented yet" in out.stdout
    syntax = tmp_path / "syntax.txt"
    syntax.write_text("model_config {\n  arch: 'resnet'\n")
    out = run_tao("classification", "train", "-e", syntax, check=False)
    assert out.returncode == 2 and "syntax.txt:2:" in out.stdout and "Traceback" not in out.stdout
