"""The Docker runtime against a real engine and the real CV worker image (scripts/build_images.sh builds it;
scripts/test.sh does that before the tests when it can start an engine)."""

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import TAO

pytestmark = pytest.mark.slow
IMAGE = "tao-toolkit-oss/cv:0.1.0"
DEPLOY_IMAGE = "tao-toolkit-oss/deploy:0.1.0"


@pytest.fixture(scope="module")
def engine():
    from tao_launcher.runtimes.docker import connect, image_present

    client, why_not = connect()
    if client is None:
        pytest.skip(f"Docker tests need an engine: {why_not} (scripts/test.sh starts one when run as root)")
    if not image_present(client, IMAGE):
        pytest.skip(f"image {IMAGE} is not built: bash scripts/build_images.sh")
    return client


@pytest.fixture()
def workspace(tmp_path):
    """A mounted experiment folder, world-writable so a container user other than ours can write too."""
    exp = tmp_path / "exp"
    exp.mkdir()
    exp.chmod(0o777)
    mounts = tmp_path / "mounts.json"
    mounts.write_text(json.dumps({"Mounts": [{"source": str(exp), "destination": "/workspace/exp"}]}))
    return exp, mounts


@pytest.fixture(autouse=True)
def no_leftover_containers(engine):
    """A failing test must not leave a task container that the next test counts."""
    yield
    for container in task_containers(engine):
        container.remove(force=True)


def _default_sigint():
    # A shell that starts the test run in the background makes SIGINT ignored, and children inherit that;
    # a terminal's Ctrl-C reaches a process whose SIGINT is not ignored, so give `tao` that.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def tao(*args, mounts, wait=True, **env):
    full_env = {key: value for key, value in os.environ.items() if key != "TAO_DOCKER_DISABLE"}
    full_env.update({"LAUNCHER_MOUNTS": str(mounts), "COLUMNS": "200", **env})
    proc = subprocess.Popen([TAO, *map(str, args)], env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, preexec_fn=_default_sigint)
    if not wait:
        return proc
    out, _ = proc.communicate(timeout=600)
    return proc.returncode, out


def task_containers(engine, all_states=True):
    from tao_launcher.runtimes.docker import task_containers as listed

    return listed(engine, all_states=all_states)


def tiny_spec(exp, epochs):
    spec = exp / "spec.yaml"
    spec.write_text(f"""dataset:
  root: {exp / 'data'}
  image_size: 32
  num_workers: 0
model: {{backbone: resnet18}}
train: {{num_epochs: {epochs}, batch_size: 16, optimizer: {{name: sgd, lr: 0.05}}}}
evaluate: {{split: test}}
""")
    return spec


def test_tasks_run_in_containers_and_write_to_the_host_as_the_user(engine, workspace):
    exp, mounts = workspace
    code, out = tao("--runtime", "docker", "classification", "generate_sample", "-o", exp / "data",
                    "--per_class", "6,2,2", "--image_size", "32", mounts=mounts)
    assert code == 0, out
    spec = tiny_spec(exp, epochs=1)
    code, out = tao("--runtime", "docker", "classification", "train", "-e", spec, "-r", exp / "run", mounts=mounts)
    assert code == 0, out
    best = exp / "run" / "weights" / "best.pth"
    assert best.is_file() and (exp / "run" / "status.json").read_text().strip().splitlines()[-1].count("SUCCESS")
    # The resolved spec written in the container holds container paths: the launcher translated the spec.
    assert "root: /workspace/exp/data" in (exp / "run" / "experiment.yaml").read_text()
    owners = {path.stat().st_uid for path in (exp / "run").rglob("*")} | {(exp / "data").stat().st_uid}
    assert owners == {os.getuid()}
    code, out = tao("--runtime", "docker", "classification", "evaluate", "-e", spec, "-m", best, "-r", exp / "eval",
                    mounts=mounts)
    assert code == 0 and 0.0 <= json.loads((exp / "eval" / "evaluation.json").read_text())["top1"] <= 1.0, out
    assert task_containers(engine) == []  # every task container was removed

    # DockerOptions.user overrides the invoking user's UID:GID.
    mounts.write_text(json.dumps({**json.loads(mounts.read_text()), "DockerOptions": {"user": "4321:4321"}}))
    code, out = tao("--runtime", "docker", "classification", "generate_sample", "-o", exp / "other",
                    "--per_class", "1,1,1", "--image_size", "16", mounts=mounts)
    assert code == 0, out
    assert {p.stat().st_uid for p in (exp / "other").rglob("*")} == {4321}


def test_multi_process_training_runs_torchrun_inside_the_container(engine, workspace):
    exp, mounts = workspace
    code, out = tao("--runtime", "docker", "classification", "generate_sample", "-o", exp / "data",
                    "--per_class", "6,2,2", "--image_size", "32", mounts=mounts)
    assert code == 0, out
    code, out = tao("--runtime", "docker", "classification", "train", "-e", tiny_spec(exp, epochs=1), "-r",
                    exp / "run", "--nproc_per_node", "2", "train.batch_size=8", mounts=mounts)
    assert code == 0, out
    assert "torchrun: 2 process(es) on this node, 1 node(s), 2 in all" in out and out.count("Done.") == 1
    records = (exp / "run" / "status.json").read_text().splitlines()
    assert [json.loads(r)["status"] for r in records] == ["STARTED", "RUNNING", "SUCCESS"]
    assert {path.stat().st_uid for path in (exp / "run").rglob("*")} == {os.getuid()}


def test_failures_reach_the_shell_and_bad_paths_start_nothing(engine, workspace, tmp_path):
    exp, mounts = workspace
    spec = tiny_spec(exp, epochs=1)
    code, out = tao("--runtime", "docker", "classification", "evaluate", "-e", spec, "-m", exp / "missing.pth",
                    mounts=mounts)
    assert code == 2 and "error:" in out and "/workspace/exp/missing.pth" in out, out
    code, out = tao("--runtime", "docker", "classification", "export", "-m", exp / "m.pth", "-o",
                    tmp_path / "outside" / "m.onnx", mounts=mounts)
    assert code == 2 and "is outside every mount" in out and '"source":' in out, out
    (tmp_path / "bad.json").write_text('{"Mounts": [{"source": "/nonexistent", "destination": "/w"}]}')
    code, out = tao("--runtime", "docker", "classification", "train", "-e", spec, mounts=tmp_path / "bad.json")
    assert code == 2 and "Mounts[0].source '/nonexistent' does not exist" in out and "Traceback" not in out
    code, out = tao("--runtime", "docker", "classification", "train", "-e", spec, mounts=mounts,
                    TAO_DOCKER_REGISTRY="nowhere.example")
    assert code == 2 and "nowhere.example/tao-toolkit-oss/cv:0.1.0 (the 'cv' worker) is not on this machine" in out
    assert "docker compose build cv" in out
    assert task_containers(engine) == []


def start_long_training(exp, mounts):
    code, out = tao("--runtime", "docker", "classification", "generate_sample", "-o", exp / "data",
                    "--per_class", "8,2,2", "--image_size", "32", mounts=mounts)
    assert code == 0, out
    proc = tao("--runtime", "docker", "classification", "train", "-e", tiny_spec(exp, epochs=500), "-r", exp / "run",
               mounts=mounts, wait=False)
    deadline = time.time() + 120
    while not (exp / "run" / "status.json").exists():  # the worker has started inside its container
        assert proc.poll() is None and time.time() < deadline, proc.stdout.read() if proc.poll() is not None else "timeout"
        time.sleep(0.5)
    return proc


def test_ctrl_c_stops_and_removes_the_container(engine, workspace):
    exp, mounts = workspace
    proc = start_long_training(exp, mounts)
    assert len(task_containers(engine, all_states=False)) == 1
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert task_containers(engine) == [], "a container was left behind"
    assert "FAILURE" in (exp / "run" / "status.json").read_text().strip().splitlines()[-1]


def test_list_and_stop(engine, workspace):
    exp, mounts = workspace
    proc = start_long_training(exp, mounts)
    code, out = tao("list", mounts=mounts)
    (running,) = task_containers(engine, all_states=False)
    assert code == 0 and running.short_id in out and "classification train" in out, out
    code, out = tao("stop", "--container_id", running.short_id, mounts=mounts)
    assert code == 0 and f"stopped {running.short_id}" in out, out
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0 and task_containers(engine) == []
    code, out = tao("list", mounts=mounts)
    assert code == 0 and "no task containers running" in out
    code, out = tao("stop", "--container_id", "ffffffff", mounts=mounts)
    assert code == 2 and "matches 0 task containers" in out


def test_info_and_auto_choose_docker(engine, workspace):
    exp, mounts = workspace
    code, out = tao("info", mounts=mounts)
    assert code == 0, out
    assert "docker engine: " in out and f"image for 'cv': {IMAGE} — found" in out
    assert f"mounts file: {mounts} — 1 mount(s)" in out
    assert f"runtime: docker (engine reachable, image {IMAGE} found)" in out and "tao_cv worker" in out
    code, out = tao("info", mounts=mounts, TAO_CONFIG=str(exp / "config.json"), TAO_DOCKER_REGISTRY="nowhere.example")
    assert "local (Docker engine found, but image nowhere.example/tao-toolkit-oss/cv:0.1.0 is not built" in out


def test_without_a_mounts_file_auto_runs_locally_and_docker_says_how_to_make_one(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("TAO_DOCKER_DISABLE", "LAUNCHER_MOUNTS")}
    env.update({"HOME": str(tmp_path), "COLUMNS": "200"})  # no ~/.tao_mounts.json there
    out = subprocess.run([TAO, "classification", "generate_sample", "-o", tmp_path / "s", "--per_class", "1,1,1"],
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0 and (tmp_path / "s" / "README.txt").is_file(), out.stdout + out.stderr
    assert f"tao: runtime local (Docker engine found, but no mounts file {tmp_path}/.tao_mounts.json" in \
        " ".join(out.stderr.split())
    out = subprocess.run([TAO, "--runtime", "docker", "classification", "generate_sample", "-o", tmp_path / "t"],
                         env=env, capture_output=True, text=True)
    assert out.returncode == 2 and "no mounts file" in out.stderr and '"Mounts": [{"source":' in out.stderr
    env["LAUNCHER_MOUNTS"] = str(tmp_path / "absent.json")
    out = subprocess.run([TAO, "--runtime", "docker", "classification", "generate_sample", "-o", tmp_path / "t"],
                         env=env, capture_output=True, text=True)
    assert out.returncode == 2 and f"LAUNCHER_MOUNTS={tmp_path}/absent.json: no such file" in out.stderr, out.stderr


def test_deploy_tasks_run_in_the_deploy_image(engine, workspace):
    """`tao deploy` runs the deploy worker's image (no torch) with the same mounts, user and exit codes."""
    from tao_launcher.runtimes.docker import image_present

    if not image_present(engine, DEPLOY_IMAGE):
        pytest.skip(f"image {DEPLOY_IMAGE} is not built: bash scripts/build_images.sh")
    exp, mounts = workspace
    code, out = tao("--runtime", "docker", "classification", "generate_sample", "-o", exp / "data",
                    "--per_class", "6,2,2", "--image_size", "32", mounts=mounts)
    assert code == 0, out
    spec = tiny_spec(exp, epochs=1)
    code, out = tao("--runtime", "docker", "classification", "train", "-e", spec, "-r", exp / "run", mounts=mounts)
    assert code == 0, out
    code, out = tao("--runtime", "docker", "classification", "export", "-m", exp / "run" / "weights" / "best.pth",
                    "-o", exp / "m.onnx", mounts=mounts)
    assert code == 0, out
    code, out = tao("--runtime", "docker", "deploy", "classification", "evaluate", "-e", spec, "-m", exp / "m.onnx",
                    "-r", exp / "eval", mounts=mounts)
    assert code == 0 and json.loads((exp / "eval" / "evaluation.json").read_text())["model_kind"] == "onnx-fp32", out
    assert {p.stat().st_uid for p in (exp / "eval").rglob("*")} == {os.getuid()}
    code, out = tao("--runtime", "docker", "deploy", "classification", "gen_trt_engine", "-m", exp / "m.onnx",
                    mounts=mounts)
    assert code == 2 and "needs TensorRT" in out, out  # the CI image has no TensorRT (no CUDA base here)
    code, out = tao("--runtime", "docker", "deploy", "classification", "evaluate", "-e", spec, "-m",
                    exp / "run" / "weights" / "best.pth", "-r", exp / "e2", mounts=mounts)
    assert code == 2 and "export it first" in out
    assert task_containers(engine) == []
