"""The host launcher: no ML import, TAO spellings, exit codes, and the local runtime's streaming."""

import subprocess
import sys

from conftest import TAO, run_tao


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
    assert subprocess.run([TAO, "--runtime", "docker", "info"], capture_output=True).returncode == 2
