"""`tao pipeline`: the workflow as resumable named steps, and its report (opened in a headless browser)."""

import json
import re
import shutil
import subprocess

import pytest

from conftest import run_tao

pytestmark = pytest.mark.slow
STEPS = ["train", "evaluate", "prune", "retrain", "evaluate_retrained", "export", "export_int8", "evaluate_deployed",
         "gen_trt_engine", "benchmark", "report"]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    run_tao("classification", "generate_sample", "-o", root / "data", "--per_class", "6,3,3", "--image_size", "32")
    (root / "spec.yaml").write_text(f"""dataset: {{root: {root / 'data'}, image_size: 32, num_workers: 0}}
model: {{backbone: resnet18}}
train: {{num_epochs: 2, batch_size: 8, checkpoint_interval: 1, tensorboard_images: 0}}
evaluate: {{split: test, top_k: 3}}
export: {{cal_batches: 2, cal_batch_size: 4}}
""")
    (root / "pipeline.yaml").write_text("""task: classification
spec: spec.yaml
prune: {target_macs_ratio: 0.6, flags: [-pg, "8", -nf, "8"]}
retrain: {epochs: 1}
benchmark: {batch_size: 4}
""")
    out = run_tao("pipeline", "-e", root / "pipeline.yaml", "-r", root / "run").stdout
    return root, out


def _state(results):
    return json.loads((results / "pipeline.json").read_text())


def test_every_step_writes_its_outputs_and_the_report(pipeline):
    root, out = pipeline
    results = root / "run"
    state = _state(results)
    assert list(state) == STEPS
    assert {name for name, record in state.items() if record["status"] == "SUCCESS"} == set(STEPS) - {"gen_trt_engine"}
    assert state["gen_trt_engine"] == {"status": "SKIPPED", "reason": state["gen_trt_engine"]["reason"]}
    assert "TensorRT is not installed" in state["gen_trt_engine"]["reason"]
    for path in ("train/weights/best.pth", "evaluate/evaluation.json", "prune/model.pth", "prune/prune_report.json",
                 "retrain/weights/best.pth", "export/unpruned.onnx", "export/pruned.onnx",
                 "export_int8/pruned_int8.onnx", "evaluate_deployed/pruned_int8/evaluation.json",
                 "benchmark/benchmark.csv", "report.md", "report.html"):
        assert (results / path).is_file(), path
    report = json.loads((results / "prune" / "prune_report.json").read_text())
    assert report["target"]["macs_ratio"] <= 0.6  # the MACs target turned into a -pth by bisection
    md = (results / "report.md").read_text()
    stages = [line for line in md.splitlines() if line.startswith(("| unpruned", "| pruned"))]
    assert [line.split(" | ")[0] for line in stages] == ["| unpruned FP32", "| pruned + retrained FP32",
                                                         "| pruned INT8 (calibrated)"]
    assert "1.00x" in stages[0] and "agreement on the check images" in md and "INT8 dot product" in md
    pictures = re.findall(r"\]\((report_files/[^)]+)\)", md)
    assert len(pictures) >= 4 and all((results / p).is_file() for p in pictures)
    page = (results / "report.html").read_text()
    assert page.count("<img") == len(pictures) and not re.search(r'src="(?!data:image/png;base64,)', page)
    assert f"report: {results / 'report.html'}" in out


def test_a_rerun_skips_what_is_done_and_a_change_reruns_from_there(pipeline):
    root, _ = pipeline
    results = root / "run"
    out = run_tao("pipeline", "-e", root / "pipeline.yaml", "-r", results).stdout
    assert all(f"[{step}] up to date" in out for step in STEPS if step not in ("gen_trt_engine", "report"))
    before = (results / "train" / "weights" / "best.pth").stat().st_mtime_ns
    out = run_tao("pipeline", "-e", root / "pipeline.yaml", "-r", results, "retrain.epochs=2").stdout
    assert all(f"[{step}] up to date" in out for step in ("train", "evaluate", "prune"))
    assert "[retrain] tao model classification train" in out and "Epoch 2/2" in out
    assert "[benchmark] tao model classification benchmark" in out  # its inputs (the models) changed
    assert (results / "train" / "weights" / "best.pth").stat().st_mtime_ns == before
    out = run_tao("pipeline", "-e", root / "pipeline.yaml", "-r", results, "retrain.epochs=2", "--from",
                  "export").stdout
    assert "[retrain] up to date" in out and "[export] tao model classification export" in out


def test_a_half_done_training_resumes_and_a_failing_step_stops_the_pipeline(pipeline, tmp_path):
    root, _ = pipeline
    (tmp_path / "pipeline.yaml").write_text((root / "pipeline.yaml").read_text().replace("spec.yaml",
                                                                                         str(root / "spec.yaml")))
    results = tmp_path / "run"
    run_tao("pipeline", "-e", tmp_path / "pipeline.yaml", "-r", results, "steps=[train]")
    # as if killed after epoch 1: its checkpoint is the latest, the step not finished
    train = results / "train"
    shutil.copy(train / "checkpoints" / "epoch_001.pth", train / "checkpoints" / "latest.pth")
    state = _state(results)
    state["train"]["status"] = "RUNNING"
    (results / "pipeline.json").write_text(json.dumps(state))
    out = run_tao("pipeline", "-e", tmp_path / "pipeline.yaml", "-r", results, "steps=[train]").stdout
    assert "resuming from" in out and "(epoch 1 done)" in out and "Epoch 2/2" in out
    assert _state(results)["train"]["status"] == "SUCCESS"

    failed = run_tao("pipeline", "-e", tmp_path / "pipeline.yaml", "-r", results, "prune.flags=[-pg, '0']",
                     check=False)
    assert failed.returncode == 2 and "[prune] failed (exit code 2)" in failed.stdout
    state = _state(results)
    assert state["train"]["status"] == "SUCCESS" and state["prune"]["status"] == "FAILURE" and "retrain" not in state
    assert (train / "weights" / "best.pth").is_file()  # what finished is kept


@pytest.mark.parametrize("text, overrides, message", [
    ("task: classification\nspec: spec.yaml\nprunes: {}\n", [], "unknown key 'prunes'"),
    ("task: classification\n", [], "'spec' is required"),
    ("task: classification\nspec: nowhere.yaml\n", [], "'spec: nowhere.yaml' — no such file"),
    ("task: classification\nspec: spec.yaml\nsteps: [train, deploy]\n", [], "'steps' is a list of: train"),
    ("task: classification\nspec: spec.yaml\n", ["int8.mode=fp8"], "'int8.mode' is ptq"),
    ("task: classification\nspec: spec.yaml\nprune: {pth: 0.1, bogus: 1}\n", [], "'prune': unknown key 'bogus'"),
    ("task: augment\nspec: spec.yaml\n", [], "is not a network"),
    ("task: [classification\n", [], "pipeline.yaml:2: not valid YAML"),
])
def test_pipeline_file_errors_name_the_file_and_key(pipeline, tmp_path, text, overrides, message):
    root, _ = pipeline
    shutil.copy(root / "spec.yaml", tmp_path / "spec.yaml")
    (tmp_path / "pipeline.yaml").write_text(text)
    result = run_tao("pipeline", "-e", tmp_path / "pipeline.yaml", "-r", tmp_path / "run", *overrides, check=False)
    assert result.returncode == 2 and message in result.stdout and "Traceback" not in result.stdout


def test_qat_mode_retrains_with_qat_and_reports_its_agreement(pipeline, tmp_path):
    root, _ = pipeline
    results = tmp_path / "run"
    shutil.copytree(root / "run" / "train", results / "train")  # the same training, as the pipeline would skip it
    run_tao("pipeline", "-e", root / "pipeline.yaml", "-r", results, "int8.mode=qat",
            "steps=[train, prune, retrain, export, export_int8, evaluate_deployed, benchmark, report]")
    assert (results / "export_int8" / "pruned_qat.onnx").is_file() and not (results / "export" / "pruned.onnx").exists()
    md = (results / "report.md").read_text()
    assert "| pruned QAT INT8 |" in md and "QAT Q/DQ vs the PyTorch QAT model" in md


def _browser():
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.mark.skipif(_browser() is None, reason="no headless Chromium here (scripts/test.sh installs Debian's "
                                               "chromium as root); the report's rendering is not checked")
def test_the_report_renders_in_a_browser_with_every_picture(pipeline, tmp_path):
    root, _ = pipeline
    page = root / "run" / "report.html"
    dom = subprocess.run([_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
                          f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    loaded = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    assert loaded, dom[:500]
    assert int(loaded.group(1)) == int(loaded.group(2)) >= 4  # every picture decoded
    assert "<h2>Stages</h2>" in dom and "pruned INT8 (calibrated)" in dom
