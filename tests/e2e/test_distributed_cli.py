"""`tao <task> train` on several processes (torchrun, gloo on CPU) through the real CLI and the local runtime.

Tolerance of the 1- vs 2-process comparison (same global batch, same data order): the gradients are the same up to
BatchNorm, whose batch statistics come from 8 images per rank instead of 16; with ImageNet-pretrained
EfficientNet-Lite0 that moves the best val top-1 by at most 0.1 and the final val loss by at most 0.15.
(tests/unit/test_distributed.py checks the engine step for step, to 1e-6, on a network without BatchNorm.)"""

import csv
import json
import os
import signal
import subprocess
import time

import pytest
import torch

from conftest import TAO, run_tao
from tao_cv.engine.checkpoint import read_checkpoint

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ddp_spec(tmp_path_factory):
    from tao_cv.data.sample import generate_sample

    root = tmp_path_factory.mktemp("ddp")
    generate_sample(root / "data", per_class=(24, 8, 0), size=64)
    spec = root / "spec.yaml"
    spec.write_text(f"""\
dataset:
  root: {root / 'data'}
  image_size: 64
  num_workers: 0
  augmentation: {{random_resized_crop_scale: [1.0, 1.0], horizontal_flip: 0.0, brightness: 0.0, contrast: 0.0,
                 saturation: 0.0, hue: 0.0}}
model:
  backbone: efficientnet_lite0
  pretrained: imagenet
  dropout: 0.0
train:
  num_epochs: 3
  batch_size: 16
  optimizer: {{name: adamw, lr: 0.002}}
""")
    return spec


def log_rows(results):
    return list(csv.DictReader((results / "training_log.csv").open()))


def statuses(results):
    return [json.loads(line)["status"] for line in (results / "status.json").read_text().splitlines()]


def test_two_cpu_processes_reach_the_metrics_of_one(ddp_spec, tmp_path):
    run_tao("classification", "train", "-e", ddp_spec, "-r", tmp_path / "one")
    out = run_tao("classification", "train", "-e", ddp_spec, "-r", tmp_path / "two", "--nproc_per_node", "2",
                  "train.batch_size=8").stdout  # 2 x 8 = the same global batch of 16
    assert "torchrun: 2 process(es) on this node, 1 node(s), 2 in all" in out
    assert out.count("Epoch 3/3") == 1 and out.count("Done.") == 1  # rank 0 alone reports
    one, two = log_rows(tmp_path / "one"), log_rows(tmp_path / "two")
    assert len(two) == 3 and statuses(tmp_path / "two") == ["STARTED", "RUNNING", "RUNNING", "RUNNING", "SUCCESS"]
    best = [max(float(r["val_top1"]) for r in rows) for rows in (one, two)]
    assert abs(best[0] - best[1]) <= 0.1, best
    assert abs(float(one[-1]["val_loss"]) - float(two[-1]["val_loss"])) <= 0.15, (one[-1], two[-1])
    assert best[1] >= 0.6  # it learned
    # images/s counts every rank's images: one epoch is the whole train set once
    assert sum(1 for _ in (tmp_path / "two" / "weights").iterdir()) == 2
    assert {p.name for p in (tmp_path / "two" / "checkpoints").iterdir()} == {
        "epoch_001.pth", "epoch_002.pth", "epoch_003.pth", "latest.pth"}


def _rank_pid(results, rank):
    for pid in subprocess.run(["pgrep", "-f", str(results)], capture_output=True, text=True).stdout.split():
        try:
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in env and b"TORCHELASTIC_RUN_ID" in b"".join(env):
            return int(pid)
    return None


def test_killing_one_rank_fails_the_run_naming_it_and_the_run_resumes(ddp_spec, tmp_path):
    results = tmp_path / "run"
    command = [TAO, "classification", "train", "-e", str(ddp_spec), "-r", str(results), "--nproc_per_node", "2",
               "train.batch_size=8"]
    env = {**os.environ, "TAO_DOCKER_DISABLE": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 240
        while not (results / "checkpoints" / "latest.pth").is_file() and time.time() < deadline:
            time.sleep(0.5)
        pid = _rank_pid(results, 1)
        assert pid is not None, "rank 1 not found"
        os.kill(pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1, out
    assert "error: rank 1 (of 2) was killed by SIGKILL" in out and "rank 0 stopped as a result" in out, out
    assert "Traceback" not in out
    assert statuses(results)[-1] == "FAILURE"
    # rank 0 may have been stopped between writing an epoch's log and its latest.pth: the checkpoint counts
    done = read_checkpoint(results / "checkpoints" / "latest.pth")["epoch"] + 1
    assert 1 <= done < 3 and len(log_rows(results)) in (done, done + 1)

    out = run_tao("classification", "train", "-e", ddp_spec, "-r", results, "--nproc_per_node", "2",
                  "train.batch_size=8").stdout
    assert f"resuming from {results / 'checkpoints' / 'latest.pth'} (epoch {done} done)" in out
    assert [int(r["epoch"]) for r in log_rows(results)] == [1, 2, 3] and statuses(results)[-1] == "SUCCESS"


def test_a_user_error_in_the_ranks_is_reported_once(ddp_spec, tmp_path):
    result = run_tao("classification", "train", "-e", ddp_spec, "-r", tmp_path, "--nproc_per_node", "2",
                     f"dataset.root={tmp_path / 'nowhere'}", check=False)
    assert result.returncode == 2
    assert result.stdout.count("does not exist") == 1 and "(of 2): dataset.root: directory" in result.stdout
    assert "Traceback" not in result.stdout


def test_gpus_without_cuda_says_how_to_use_cpu_processes(ddp_spec, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = run_tao("classification", "train", "-e", ddp_spec, "-r", tmp_path, "--gpus", "2", check=False)
    assert result.returncode == 2 and "use --nproc_per_node 2" in result.stdout


def test_two_nodes_on_one_machine_meet_at_the_master(tiny_spec, tmp_path):
    """The multi-node path (static rendezvous at --master_addr:--master_port), with both "nodes" on this host."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    common = ["classification", "train", "-e", str(tiny_spec), "-r", str(tmp_path / "run"), "train.num_epochs=1",
              "train.batch_size=8", "--num_nodes", "2", "--master_addr", "127.0.0.1", "--master_port", port]
    env = {**os.environ, "TAO_DOCKER_DISABLE": "1", "COLUMNS": "200"}
    second = subprocess.Popen([TAO, *common, "--node_rank", "1"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        first = run_tao(*common, "--node_rank", "0")
        out, _ = second.communicate(timeout=300)
    finally:
        second.kill()
    assert second.returncode == 0, out
    assert f"2 in all; node 0, master 127.0.0.1:{port}" in first.stdout and "node 1" in out
    assert first.stdout.count("Done.") == 1 and "Done." not in out  # global rank 0 (node 0) reports and writes
    assert statuses(tmp_path / "run") == ["STARTED", "RUNNING", "SUCCESS"]
