"""Multi-process training: the engine under torchrun, and how `train` turns flags/environment into a torchrun run."""

import argparse
import csv
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tao_cv.engine import distributed
from tao_inference.errors import UserError

HELPER = Path(__file__).resolve().parents[1] / "helpers" / "fit_tiny.py"


@pytest.mark.parametrize("distill", ["", "distill"])
def test_two_processes_train_exactly_like_one_with_the_same_global_batch(tmp_path, distill):
    """DDP averages the ranks' gradients and DistributedSampler deals each rank every other image of the same
    shuffled order, so 2 processes x batch 8 take the very steps of 1 process x batch 16 (no BatchNorm here) —
    with a teacher to distill from too (each rank runs it on its own images)."""
    for command in ([sys.executable, str(HELPER), tmp_path / "one", "16", distill],
                    [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                     str(HELPER), tmp_path / "two", "8", distill]):
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
    one = torch.load(tmp_path / "one/weights/last.pth", weights_only=False)["state_dict"]
    two = torch.load(tmp_path / "two/weights/last.pth", weights_only=False)["state_dict"]
    for name in one:
        torch.testing.assert_close(two[name], one[name], rtol=0, atol=1e-6)
    rows = [list(csv.DictReader((tmp_path / run / "training_log.csv").open())) for run in ("one", "two")]
    assert [r["train_loss"] for r in rows[0]] == [r["train_loss"] for r in rows[1]]
    assert [r["val_acc"] for r in rows[0]] == [r["val_acc"] for r in rows[1]]
    # rank 0 alone writes: one status record per event, not one per rank
    statuses = [line for line in (tmp_path / "two/status.json").read_text().splitlines()]
    assert sum('"STARTED"' in s for s in statuses) == 1 and sum('"SUCCESS"' in s for s in statuses) == 1


def _args(**given):
    names = ("gpus", "gpu_index", "nproc_per_node", "num_nodes", "node_rank", "master_addr", "master_port")
    return argparse.Namespace(**{name: given.get(name) for name in names})


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("LOCAL_RANK", "TORCHELASTIC_RUN_ID", "NUM_NODES", "WORLD_SIZE", "NODE_RANK", "MASTER_ADDR",
                 "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_plan_one_process_needs_no_torchrun(clean_env):
    assert distributed.plan(_args()) is None
    assert distributed.plan(_args(gpus="1")) is None
    assert distributed.plan(_args(nproc_per_node=1, num_nodes=1)) is None


def test_plan_cpu_processes_and_single_node_torchrun_argv(clean_env):
    run = distributed.plan(_args(nproc_per_node=2))
    assert run["nproc_per_node"] == 2 and run["num_nodes"] == 1
    argv = distributed.torchrun_argv(run, ["classification", "train", "-e", "s.yaml"])
    assert "--standalone" in argv and argv[argv.index("--nproc_per_node") + 1] == "2"
    assert argv[-6:] == ["-m", "tao_cv", "classification", "train", "-e", "s.yaml"]


def test_plan_multi_node_from_flags_and_from_tao6_environment(clean_env):
    run = distributed.plan(_args(nproc_per_node=2, num_nodes=2, node_rank=1, master_addr="10.0.0.1",
                                 master_port=29501))
    argv = distributed.torchrun_argv(run, ["classification", "train"])
    for flag, value in (("--nnodes", "2"), ("--node_rank", "1"), ("--master_addr", "10.0.0.1"),
                        ("--master_port", "29501")):
        assert argv[argv.index(flag) + 1] == value
    assert "--standalone" not in argv
    clean_env.setenv("WORLD_SIZE", "3")
    clean_env.setenv("NODE_RANK", "2")
    clean_env.setenv("MASTER_ADDR", "head")
    run = distributed.plan(_args())
    assert (run["num_nodes"], run["node_rank"], run["master_addr"], run["nproc_per_node"]) == (3, 2, "head", 1)


def test_plan_errors_say_how_to_fix(clean_env):
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA device is visible.*--nproc_per_node 2"):
            distributed.plan(_args(gpus="2"))
    with pytest.raises(UserError, match="--gpus two: expected a positive number or 'all'"):
        distributed.plan(_args(gpus="two"))
    with pytest.raises(UserError, match="--nproc_per_node 0: must be at least 1"):
        distributed.plan(_args(nproc_per_node=0))
    with pytest.raises(UserError, match="every node needs --master_addr"):
        distributed.plan(_args(num_nodes=2))
    with pytest.raises(UserError, match="--node_rank 2: must be between 0 and 1"):
        distributed.plan(_args(num_nodes=2, node_rank=2, master_addr="h"))
    clean_env.setenv("NUM_NODES", "two")
    with pytest.raises(UserError, match="environment NUM_NODES='two'"):
        distributed.plan(_args())


def test_torchrun_processes_do_not_launch_again(clean_env):
    clean_env.setenv("LOCAL_RANK", "0")
    clean_env.setenv("TORCHELASTIC_RUN_ID", "x")
    assert distributed.plan(_args(nproc_per_node=2)) is None


def _failure(tmp_path, rank, exitcode, message=None):
    from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

    error_file = tmp_path / f"error_{rank}.json"
    if message is not None:
        error_file.write_text(json.dumps({"message": message, "timestamp": 0}))
    return ProcessFailure(local_rank=rank % 2, pid=1000 + rank, exitcode=exitcode, error_file=str(error_file))


def _report(failures, processes=2):
    from rich.console import Console

    console = Console(file=io.StringIO(), width=300)
    code = distributed.report_failures(failures, processes, 2, console)
    return code, console.file.getvalue()


GLOO_RESET = ("[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:545] Read error "
              "[127.0.0.1]:45787: Connection reset by peer.")


def test_a_rank_whose_peer_died_is_reported_as_stopped_not_as_the_cause(tmp_path):
    """Killing rank 1 mid-step makes rank 0's gloo collective fail too (a race with torchrun's SIGTERM): the
    report names rank 1's death as the cause whichever way the race goes (also when rank 0 was busy outside
    a collective, still running when torchrun saw rank 1's death, and so is not among torchrun's failures)."""
    killed = {1: _failure(tmp_path, 1, -signal.SIGKILL)}
    for rank0 in ({0: _failure(tmp_path, 0, distributed.LOST_PEER_EXIT, GLOO_RESET)}, {0: _failure(tmp_path, 0, 130)},
                  {0: _failure(tmp_path, 0, -signal.SIGTERM)}, {}):
        code, out = _report({**rank0, **killed})
        assert code == 1
        assert "error: rank 1 (of 2) was killed by SIGKILL" in out and "rank 0 stopped as a result" in out
        assert "pair.cc" not in out and "resume" in out


def test_lost_peers_with_no_failure_here_point_at_the_other_node(tmp_path):
    code, out = _report({0: _failure(tmp_path, 0, distributed.LOST_PEER_EXIT, GLOO_RESET),
                         1: _failure(tmp_path, 1, distributed.LOST_PEER_EXIT)})
    assert code == 1
    # gloo's bracketed file name is printed as text, not read as rich markup
    assert f"error: ranks 0, 1 (of 2) lost contact with the other processes ({GLOO_RESET})" in out
    assert "another node failed or the network dropped" in out


def test_user_errors_on_every_rank_are_reported_once_with_exit_code_2(tmp_path):
    message = "dataset.root: directory /x[/y] does not exist"
    code, out = _report({0: _failure(tmp_path, 0, 2, message), 1: _failure(tmp_path, 1, 2, message)})
    assert code == 2 and out.count("does not exist") == 1 and f"ranks 0, 1 (of 2): {message}" in out


def test_lost_peer_recognises_gloo_and_store_failures_only_in_a_multi_process_run(monkeypatch):
    assert not distributed.lost_peer(RuntimeError(GLOO_RESET))  # one process: never
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "x")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert distributed.lost_peer(RuntimeError(GLOO_RESET))
    assert distributed.lost_peer(torch.distributed.DistNetworkError("store gone"))
    assert not distributed.lost_peer(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))


def test_on_a_second_node_the_ranks_still_running_are_named_by_their_global_rank(tmp_path):
    code, out = _report({3: _failure(tmp_path, 3, 1, "internal error ValueError: x (traceback above)")}, processes=4)
    assert code == 1
    assert "error: rank 3 (of 4): internal error ValueError: x" in out and "rank 2 stopped as a result" in out
    assert "rank 0" not in out and "rank 1" not in out


@pytest.mark.parametrize("world_size, teardown_runs", [("2", False), ("1", True)])
def test_a_multi_process_worker_exits_with_its_code_and_output_but_skips_teardown(world_size, teardown_runs):
    """torch's C++ teardown at exit sometimes aborts a finished gloo run: a worker of a multi-process run skips it."""
    script = ("import atexit, sys\nfrom tao_cv.engine import distributed\n"
              "atexit.register(lambda: print('teardown ran'))\nprint('task output', end='')\n"
              "sys.stderr.write('task errors')\ndistributed.exit_process(3)\n")
    env = {**os.environ, "LOCAL_RANK": "0", "TORCHELASTIC_RUN_ID": "test", "WORLD_SIZE": world_size}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert result.returncode == 3, result.stderr
    assert result.stdout.startswith("task output") and result.stderr.endswith("task errors")
    assert ("teardown ran" in result.stdout) == teardown_runs


def test_sigterm_interrupts_the_task_but_ends_a_process_at_once_outside_it():
    """torchrun stops the other ranks with SIGTERM the moment one fails: a rank still importing, or reporting its
    own error, must just end (counted as stopped as a result), not die in a KeyboardInterrupt traceback."""
    script = ("import os, signal, time\nfrom tao_cv.__main__ import _sigterm_interrupts\n"
              "try:\n    with _sigterm_interrupts():\n        os.kill(os.getpid(), signal.SIGTERM)\n"
              "        time.sleep(5)\nexcept KeyboardInterrupt:\n    print('task interrupted', flush=True)\n"
              "os.kill(os.getpid(), signal.SIGTERM)\ntime.sleep(5)\nprint('still running')\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == -signal.SIGTERM, result.stdout + result.stderr
    assert result.stdout == "task interrupted\n" and "Traceback" not in result.stderr


def test_sigterm_that_lands_in_a_finalizer_still_interrupts_the_task():
    """Python drops an exception raised inside __del__ or a weakref callback ("Exception ignored in"), and the
    garbage collector runs those at any point of training: the stop must be raised again, or the launcher's grace
    runs out and the run is killed without its FAILURE record."""
    script = ("import os, signal, time\nfrom tao_cv.__main__ import _sigterm_interrupts\n"
              "class Finalized:\n    def __del__(self):\n        os.kill(os.getpid(), signal.SIGTERM)\n"
              "        for _ in range(10**5): pass\n"
              "start = time.time()\n"
              "try:\n    with _sigterm_interrupts():\n        Finalized()\n        print('finalizer ran', flush=True)\n"
              "        while time.time() - start < 10:\n            pass\n"
              "except KeyboardInterrupt:\n    print(f'interrupted after {time.time() - start:.1f} s', flush=True)\n"
              "time.sleep(2)\nprint('no stray interrupt')\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "finalizer ran" and "Exception ignored" in result.stderr
    assert lines[1].startswith("interrupted after ") and float(lines[1].split()[2]) < 2 and lines[2] == "no stray interrupt"
