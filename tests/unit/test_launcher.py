"""The host launcher: no ML import, TAO spellings, exit codes, and the local runtime's streaming."""

import subprocess
import sys

from conftest import run_tao


def test_launcher_imports_no_ml_library():
    code = ("import sys, tao_launcher.cli, tao_launcher.runtimes; "
            "bad = [m for m in ('torch', 'torchvision', 'numpy', 'onnx', 'onnxruntime') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_help_lists_tasks_and_subcommands():
    out = run_tao("--help").stdout
    assert "classification" in out and all(s in out for s in ("train", "evaluate", "prune", "export", "inference"))
    assert "prune" in run_tao("classification", "--help").stdout
    assert "-pth" in run_tao("classification", "prune", "--help").stdout


def test_tao5_spelling_and_unknown_names():
    assert "subcommands" in run_tao("model", "classification", "--help").stdout
    result = run_tao("detectron", "train", check=False)
    assert result.returncode == 2 and "unknown task 'detectron'" in result.stdout
    result = run_tao("classification", "fly", check=False)
    assert result.returncode == 2 and "no subcommand 'fly'" in result.stdout
    result = run_tao("info", "classification", check=False)
    assert result.returncode == 2 and "tao info takes no arguments (got 'classification')" in result.stdout
    assert "tao info" in run_tao("list", "--help").stdout


def test_info_shows_runtime_and_devices():
    out = run_tao("info").stdout
    assert "runtime: local (TAO_DOCKER_DISABLE is set)" in out
    assert "torch" in out and ("cuda:0" in out or "cuda: none visible" in out)


def test_worker_exit_code_and_output_reach_the_caller(tmp_path):
    result = run_tao("classification", "generate_sample", "-o", tmp_path / "d", "--per_class", "1,1,1",
                     "--image_size", "16")
    assert "synthetic sample data" in result.stdout and (tmp_path / "d" / "train" / "star" / "0000.jpg").is_file()
    result = run_tao("classification", "generate_sample", "-o", tmp_path / "e", "--per_class", "1,1", check=False)
    assert result.returncode == 2 and "TRAIN,VAL,TEST" in result.stdout
    result = run_tao("--runtime", "docker", "info", check=False)
    assert result.returncode == 2 and "TAO_DOCKER_DISABLE is set" in result.stdout


def test_local_runtime_turns_gpu_flags_into_visible_devices(monkeypatch):
    from tao_launcher.runtimes import local

    seen = {}

    class FakePopen:
        def __init__(self, command, env):
            seen.update(command=command, env=env)

        def wait(self):
            return 0

    monkeypatch.setattr(local.subprocess, "Popen", FakePopen)
    assert local.LocalRuntime().run("classification", "train", ["-e", "s.yaml", "--gpu_index", "1,3"]) == 0
    # train starts one process per given GPU: the worker gets the count, the GPUs are renumbered 0,1 for it
    assert seen["command"][-6:] == ["classification", "train", "-e", "s.yaml", "--gpus", "2"]
    assert seen["env"]["CUDA_VISIBLE_DEVICES"] == "1,3"
    assert local.LocalRuntime().run("classification", "evaluate", ["-e", "s.yaml", "--gpu_index", "2"]) == 0
    assert seen["command"][-4:] == ["classification", "evaluate", "-e", "s.yaml"]
    assert seen["env"]["CUDA_VISIBLE_DEVICES"] == "2"


def test_docker_engine_down_is_a_clear_error_and_auto_falls_back(tmp_path):
    env = {"TAO_DOCKER_DISABLE": "", "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    result = run_tao("--runtime", "docker", "classification", "generate_sample", "-o", tmp_path / "d", env=env,
                     check=False)
    assert result.returncode == 2 and "no Docker engine reachable at unix://" in result.stdout
    assert "Traceback" not in result.stdout and not (tmp_path / "d").exists()
    result = run_tao("classification", "generate_sample", "-o", tmp_path / "d", "--per_class", "1,1,1",
                     "--image_size", "16", env=env)
    assert result.stdout.startswith("tao: runtime local (no Docker engine reachable at unix://")
    assert (tmp_path / "d" / "train").is_dir()
    result = run_tao("list", env=env, check=False)
    assert result.returncode == 2 and "tao list: no Docker engine reachable" in result.stdout


def test_compose_file_matches_the_launcher_images():
    import shutil

    import yaml

    from conftest import ROOT
    from tao_launcher.images import DEFAULT_IMAGES

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for worker, image in DEFAULT_IMAGES.items():
        service = compose["services"][worker]
        assert service["image"] == image
        dockerfile = (ROOT / service["build"]["dockerfile"]).read_text()
        assert "ARG BASE_IMAGE=nvcr.io/nvidia/" in dockerfile and "BASE_IMAGE" in service["build"]["args"]
        (device,) = service["deploy"]["resources"]["reservations"]["devices"]
        assert device == {"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}
        assert service["shm_size"]
    if shutil.which("docker-compose"):
        subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], check=True)
