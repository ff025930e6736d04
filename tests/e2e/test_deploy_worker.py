"""The deploy worker runs exported models with torch unimportable (NVIDIA's TensorRT image has none) and gets what
the cv worker gets: the same evaluation.json and the same inference files, for every task, for models written by
0.1.0 (version-1 contracts) and by this version (anchors and decoder parameters in the contract)."""

import importlib.util
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


def test_deploy_refuses_a_checkpoint_and_names_the_fix(no_torch, data, tmp_path):
    env = {**os.environ, "PYTHONPATH": f"{no_torch}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run([sys.executable, "-m", "tao_deploy", "classification", "evaluate", "-e", data / "cls.yaml",
                             "-m", FIXTURES / "classification_pruned.pth", "-r", tmp_path],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 2 and "export it first" in result.stderr and "Traceback" not in result.stderr


def run_deploy_status(no_torch, *args):
    env = {**os.environ, "PYTHONPATH": f"{no_torch}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "tao_deploy", *map(str, args)], env=env, capture_output=True,
                            text=True, timeout=600)
    return result.returncode, result.stdout + result.stderr


def read_benchmark(folder):
    import csv

    with open(folder / "benchmark.csv") as handle:
        return list(csv.DictReader(handle))


def test_benchmark_table_across_formats_in_both_workers(no_torch, data, tmp_path):
    """One row per format, the metric as `evaluate` computes it, a failing format a row of its own."""
    pth = FIXTURES / "classification_pruned.pth"
    fp32, int8 = tmp_path / "m.onnx", tmp_path / "m_int8.onnx"
    run_tao("classification", "export", "-m", pth, "-o", fp32, "--trust_checkpoint")
    run_tao("classification", "export", "-m", pth, "-o", int8, "--data_type", "int8", "-e", data / "cls.yaml",
            "--batches", "2", "--batch_size", "4", "--trust_checkpoint")
    run_tao("classification", "benchmark", "-e", data / "cls.yaml", "-m", pth, "-m", fp32, "-m", tmp_path / "none.onnx",
            "-m", int8, "-r", tmp_path / "cv", "--runs", "3", "--warmup", "1", "--trust_checkpoint")
    rows = read_benchmark(tmp_path / "cv")
    assert [r["format"] for r in rows] == ["PyTorch FP32 (CPU)", "ONNX FP32 (CPU)", ".onnx", "ONNX INT8 (CPU)"]
    assert [r["status"] for r in rows][:2] == ["✓", "✓"] and rows[2]["status"].startswith("✗ model file")
    evaluated = json.loads((tmp_path / "cv" / "evaluations" / "m_onnx" / "evaluation.json").read_text())
    assert float(rows[1]["top1"]) == pytest.approx(evaluated["top1"], abs=1e-4) and rows[0]["top1"] == rows[1]["top1"]
    assert rows[0]["speed-up b8"] == "1.00x" and all(float(r["ms b1"]) > 0 for r in rows if r["status"] == "✓")
    assert all(float(r["size MB"]) > 0 for r in rows if r["status"] == "✓")
    assert "| model | format | status | size MB | top1 | ms b1 | ms b8 | img/s b8 | speed-up b8 |" in (tmp_path / "cv" / "benchmark.md").read_text()
    # the deploy worker, no torch: the ONNX rows, and TensorRT's rows saying why they are missing here
    code, out = run_deploy_status(no_torch, "classification", "benchmark", "-e", data / "cls.yaml", "-m", fp32, "-m",
                                  int8, "-r", tmp_path / "deploy", "--runs", "3", "--warmup", "1")
    assert code == 0, out
    rows = read_benchmark(tmp_path / "deploy")
    assert [r["format"] for r in rows][:2] == ["ONNX FP32 (CPU)", "ONNX INT8 (CPU)"]
    assert float(rows[0]["top1"]) == pytest.approx(evaluated["top1"], abs=1e-4)
    trt = [r for r in rows if r["format"].startswith("TensorRT")]
    assert [r["format"] for r in trt] == ["TensorRT FP32", "TensorRT FP16", "TensorRT INT8"]
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        assert all(r["status"] == "✗ TensorRT is not installed here (the deploy image has it)" for r in trt)


def test_gen_trt_engine_checks_as_tao_and_says_what_it_needs(no_torch, data, tmp_path):
    onnx = FIXTURES / "classification_pruned.onnx"
    cases = [
        (["--data_type", "int8"], "INT8 from the FP32 model"),
        (["--data_type", "int8", "--cal_image_dir", data / "cls" / "train" / "circle", "--batches", "10",
          "--batch_size", "8"], "images; 10 batches x 8 need 80"),
        (["--min_batch_size", "4", "--max_batch_size", "2"], "min <= opt <= max"),
        (["--cal_json_file", "x.json"], "--cal_json_file"),
    ]
    for flags, message in cases:
        code, out = run_deploy_status(no_torch, "classification", "gen_trt_engine", "-m", onnx, *flags)
        assert code == 2 and message in out and "Traceback" not in out, out
    code, out = run_deploy_status(no_torch, "classification", "gen_trt_engine", "-m", FIXTURES / "classification_pruned.pth")
    assert code == 2 and "builds from an .onnx model" in out
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        code, out = run_deploy_status(no_torch, "classification", "gen_trt_engine", "-m", onnx, "--data_type", "fp16",
                                      "--engine_file", tmp_path / "m.engine")
        assert code == 2 and out.strip().splitlines()[-1].startswith("error: gen_trt_engine needs TensorRT")
        assert "docker compose build deploy" in out and "pip install tensorrt" in out
        assert not (tmp_path / "m.engine").exists()
        code, out = run_deploy_status(no_torch, "classification", "evaluate", "-e", data / "cls.yaml", "-m",
                                      tmp_path / "m.engine")
        assert code == 2 and "needs TensorRT" in out


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is None, reason="TensorRT is not installed (it runs in the "
                    "deploy image on an NVIDIA GPU): the engine build and run are tested there")
def test_tensorrt_engines_agree_with_onnx_runtime(data, tmp_path):
    """FP32 / FP16 engines from the FP32 ONNX, INT8 from the Q/DQ ONNX and by calibration: top-1 within 1 pt."""
    pth = FIXTURES / "classification_pruned.pth"
    fp32, int8 = tmp_path / "m.onnx", tmp_path / "m_int8.onnx"
    run_tao("classification", "export", "-m", pth, "-o", fp32, "--trust_checkpoint")
    run_tao("classification", "export", "-m", pth, "-o", int8, "--data_type", "int8", "-e", data / "cls.yaml",
            "--batches", "2", "--batch_size", "4", "--trust_checkpoint")
    run_tao("deploy", "classification", "evaluate", "-e", data / "cls.yaml", "-m", fp32, "-r", tmp_path / "ort")
    reference = json.loads((tmp_path / "ort" / "evaluation.json").read_text())["top1"]
    builds = {"fp32": [fp32], "fp16": [fp32, "--data_type", "fp16"], "int8_qdq": [int8, "--data_type", "int8"],
              "int8_cal": [fp32, "--data_type", "int8", "--cal_image_dir", data / "cls" / "train" / "circle",
                           "--batches", "1", "--batch_size", "4", "--cal_cache_file", tmp_path / "cal.bin"]}
    for name, (model, *flags) in builds.items():
        engine = tmp_path / f"{name}.engine"
        run_tao("deploy", "classification", "gen_trt_engine", "-m", model, *flags, "--engine_file", engine,
                "--max_batch_size", "8", "--opt_batch_size", "8")
        assert json.loads(Path(f"{engine}.json").read_text())["tensorrt_version"]
        run_tao("deploy", "classification", "evaluate", "-e", data / "cls.yaml", "-m", engine, "-r", tmp_path / name)
        top1 = json.loads((tmp_path / name / "evaluation.json").read_text())["top1"]
        assert abs(top1 - reference) <= 0.01 + 1 / 18, (name, top1, reference)


def test_export_writes_deepstream_and_triton_files_that_parse_back(data, tmp_path):
    import configparser

    from tao_inference.spec.tao.prototext import parse_prototext

    out = tmp_path / "det" / "model.onnx"
    run_tao("detectnet_v2", "export", "-m", FIXTURES / "detectnet_v2_pruned.pth", "-o", out, "--trust_checkpoint",
            "-e", data / "detectnet_v2.yaml", "--gen_ds_config", "--gen_triton_repo", tmp_path / "triton")
    config = configparser.ConfigParser()
    config.read_string((out.parent / "nvinfer_config.txt").read_text())
    classes = json.loads(Path(f"{out}.json").read_text())["class_names"]
    assert config["property"]["onnx-file"] == "model.onnx" and config["property"]["network-type"] == "0"
    assert config["property"]["num-detected-classes"] == str(len(classes)) and config["property"]["cluster-mode"] == "2"
    assert config["class-attrs-all"]["pre-cluster-threshold"] == "0"  # the spec's coverage_threshold: 0.0
    assert (out.parent / "labels.txt").read_text().splitlines() == classes
    triton, _ = parse_prototext((tmp_path / "triton" / "model" / "config.pbtxt").read_text(), "config.pbtxt")
    assert triton["platform"] == "onnxruntime_onnx" and [o["name"] for o in triton["output"]] == ["coverage", "bbox"]
    assert triton["output"][0]["dims"] == [len(classes), 4, 4]  # 64 x 64 input, stride 16
    assert (tmp_path / "triton" / "model" / "1" / "model.onnx").read_bytes() == out.read_bytes()
