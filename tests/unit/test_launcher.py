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


def _subcommands(parser):
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return list(action.choices)


def test_the_launcher_table_is_the_workers_registry():
    """One list of tasks: each group's table in the launcher names exactly the tasks and subcommands its worker's
    parsers offer (model: tao_cv; deploy: tao_deploy; dataset: a part of tao_cv's)."""
    import tao_cv.tasks
    import tao_deploy.__main__ as deploy
    from tao_inference.tasks import TASKS as DEPLOYABLE
    from tao_launcher.tasks import GROUPS

    model = GROUPS["model"]
    assert list(model) == tao_cv.tasks.TASKS
    for name, task in model.items():
        assert task.worker == "cv" and list(task.subcommands) == _subcommands(tao_cv.tasks.build_parser(name)), name
    assert list(GROUPS["deploy"]) == list(DEPLOYABLE)
    for name, task in GROUPS["deploy"].items():
        assert task.worker == "deploy" and list(task.subcommands) == _subcommands(deploy.build_parser(DEPLOYABLE[name]))
    for name, task in GROUPS["dataset"].items():
        assert task.worker == "cv" and set(task.subcommands) <= set(model[name].subcommands), name


def test_groups_list_their_tasks_and_reach_their_worker(tmp_path):
    for group, task in (("deploy", "retinanet"), ("model", "classification"), ("dataset", "augment")):
        out = run_tao(group, "--help").stdout
        assert f"tao {group} <task> <subcommand>" in out and task in out
    assert "usage: tao deploy classification" in run_tao("deploy", "classification", "--help").stdout
    result = run_tao("deploy", "classification", "train", check=False)  # training is the cv worker's
    assert result.returncode == 2 and "`tao deploy classification` has no subcommand 'train'" in result.stdout
    result = run_tao("deploy", "classification", "evaluate", "-m", tmp_path / "m.pth", check=False)
    assert result.returncode == 2 and "usage: tao deploy classification evaluate" in result.stdout  # its own parser


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


def test_the_deploy_extra_and_image_bring_no_torch_and_no_training_code():
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]

    def expand(name):
        for requirement in extras[name]:
            if requirement.startswith("tao-toolkit-oss["):
                yield from expand(requirement.split("[")[1].rstrip("]"))
            else:
                yield requirement

    assert not [r for r in expand("deploy") if r.split(">")[0].split("=")[0] in ("torch", "torchvision", "torch-pruning")]
    dockerfile = (root / "containers" / "deploy" / "Dockerfile").read_text()
    assert "tao_cv" not in dockerfile and "containers/common/tao_inference" in dockerfile
    core = [p for p in (root / "containers" / "common" / "tao_inference").rglob("*.py")
            if "import torch" in p.read_text() or "from torch" in p.read_text()]
    assert not core, core
