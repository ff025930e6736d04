"""The deploy worker runs exported models with torch unimportable (NVIDIA's TensorRT image has none) and gets what
the cv worker gets: the same evaluation.json and the same inference files, for every task, for models written by
0.1.0 (version-1 contracts) and by this version (anchors and decoder parameters in the contract)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_tao

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "v0_1_0"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def no_torch(tmp_path_factory):
    """A folder that, first on sys.path, makes `import torch` (and torchvision) fail."""
    root = tmp_path_factory.mktemp("no_torch")
    for name in ("torch", "torchvision"):
        (root / name).mkdir()
        (root / name / "__init__.py").write_text(f"raise ImportError('{name} is not available in the deploy image')\n")
    return root


def run_deploy(no_torch, *args):
    env = {**os.environ, "PYTHONPATH": f"{no_torch}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "COLUMNS": "200"}
    code = "import sys, runpy; sys.argv = ['tao_deploy', *sys.argv[1:]]; runpy.run_module('tao_deploy', run_name='__main__')"
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=600)
    assert result.returncode == 0, result.stdout
    return result.stdout


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The sample data the fixtures were made on (same generators, sizes and seeds)."""
    root = tmp_path_factory.mktemp("deploy_data")
    run_tao("classification", "generate_sample", "-o", root / "cls", "--per_class", "6,3,3", "--image_size", "32")
    run_tao("detectnet_v2", "generate_sample", "-o", root / "det", "--count", "8,4,4", "--image_size", "64")
    (root / "cls.yaml").write_text(f"dataset: {{root: {root / 'cls'}, image_size: 32, num_workers: 0}}\n"
                                   "evaluate: {split: test, top_k: 3}\n")
    for net, post in (("detectnet_v2", "postprocessing: {default: {coverage_threshold: 0.0}}"),
                      ("retinanet", "postprocessing: {score_threshold: 0.0, max_detections: 20}")):
        sources = "\n".join(f"  {s}: [{{format: kitti, image_dir: {root}/det/{s}/images, label_dir: {root}/det/{s}/labels}}]"
                            for s in ("train", "val", "test"))
        (root / f"{net}.yaml").write_text(f"dataset:\n{sources}\n  image_width: 64\n  image_height: 64\n"
                                          f"  num_workers: 0\n{post}\ninference: {{min_confidence: 0.0}}\n")
    return root


def compare(no_torch, data, tmp_path, task, model, images):
    spec = data / f"{'cls' if task == 'classification' else task}.yaml"
    for worker in ("cv", "deploy"):
        for sub, extra in (("evaluate", []), ("inference", ["-i", images])):
            args = (task, sub, "-e", spec, "-m", model, "-r", tmp_path / worker / sub, *extra)
            out = run_tao(*args).stdout if worker == "cv" else run_deploy(no_torch, *args)
            assert "error" not in out.lower(), out
    cv, deploy = (json.loads((tmp_path / w / "evaluate" / "evaluation.json").read_text()) for w in ("cv", "deploy"))
    assert cv == deploy
    files = sorted(p.relative_to(tmp_path / "cv" / "inference") for p in (tmp_path / "cv" / "inference").rglob("*.*")
                   if p.suffix in (".csv", ".txt"))
    assert files, "inference wrote no result files"
    for name in files:
        assert (tmp_path / "cv" / "inference" / name).read_text() == (tmp_path / "deploy" / "inference" / name).read_text()
    for worker in ("cv", "deploy"):
        for sub in ("evaluate", "inference"):
            records = (tmp_path / worker / sub / "status.json").read_text().splitlines()
            assert [json.loads(r)["status"] for r in records] == ["STARTED", "SUCCESS"]
    return cv, files


def test_classification_onnx_fp32_and_int8(no_torch, data, tmp_path):
    for name in ("classification_pruned.onnx", "classification_pruned_int8.onnx"):
        metrics, _ = compare(no_torch, data, tmp_path / name, "classification", FIXTURES / name, data / "cls" / "test" / "circle")
        assert metrics["num_images"] == 18 and metrics["model_kind"].startswith("onnx-")


@pytest.mark.parametrize("task,fixture", [("detectnet_v2", "detectnet_v2_pruned"),
                                          ("retinanet", "retinanet_mobilenet_v3_small")])
def test_detectors_old_and_new_onnx(no_torch, data, tmp_path, task, fixture):
    new = tmp_path / "new.onnx"
    run_tao(task, "export", "-m", FIXTURES / f"{fixture}.pth", "-o", new, "--trust_checkpoint")  # 0.1.0 pruned: pickled
    assert json.loads(Path(f"{new}.json").read_text())["decoder"], "the contract records its decoder parameters"
    for model in (FIXTURES / f"{fixture}.onnx", new):
        metrics, files = compare(no_torch, data, tmp_path / model.stem, task, model, data / "det" / "test" / "images")
        assert metrics["num_images"] == 4 and len(files) == 4
        boxes = sum(len((tmp_path / model.stem / "cv" / "inference" / f).read_text().splitlines()) for f in files)
        assert boxes > 0, "the thresholds at 0 should leave boxes to compare"


def test_deploy_refuses_a_checkpoint_and_names_the_fix(no_torch, data):
    env = {**os.environ, "PYTHONPATH": str(no_torch)}
    result = subprocess.run([sys.executable, "-m", "tao_deploy", "classification", "evaluate", "-e", data / "cls.yaml",
                             "-m", FIXTURES / "classification_pruned.pth"], env=env, capture_output=True, text=True)
    assert result.returncode == 2 and "export it first" in result.stderr and "Traceback" not in result.stderr
