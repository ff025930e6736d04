"""The real `tao` CLI end to end on tiny generated data with a tiny model (resnet18 at 32x32)."""

import csv
import importlib.util
import json
import os
import signal
import subprocess
import time

import onnx
import pytest
import torch

from conftest import TAO, board_tags, run_tao
from tao_cv.engine.checkpoint import model_from_checkpoint, read_checkpoint
from tao_cv.engine.profile import count_macs, count_params
from tao_cv.tasks import ADAPTERS

rebuild = ADAPTERS["classification"].rebuild

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_spec):
    results = tmp_path_factory.mktemp("runs") / "unpruned"
    out = run_tao("classification", "train", "-e", tiny_spec, "-r", results, "train.checkpoint_interval=1")
    return results, out.stdout


def status_records(results):
    return [json.loads(line) for line in (results / "status.json").read_text().splitlines()]


def test_train_writes_the_whole_run_directory(trained):
    results, stdout = trained
    assert "Epoch 2/2" in stdout and "Done." in stdout
    for name in ("experiment.yaml", "status.json", "training_log.csv", "curves.png", "weights/best.pth",
                 "weights/last.pth", "checkpoints/latest.pth", "checkpoints/epoch_001.pth", "checkpoints/epoch_002.pth"):
        assert (results / name).is_file(), name
    records = status_records(results)
    assert [r["status"] for r in records] == ["STARTED", "RUNNING", "RUNNING", "SUCCESS"]
    for key in ("date", "time", "status", "message", "epoch", "max_epoch", "time_per_epoch", "eta", "kpi"):
        assert key in records[1], key
    assert 0.0 <= records[1]["kpi"]["val_top1"] <= 1.0
    scalars, images = board_tags(results)  # classification draws no images
    assert {"val/top1", "val/loss", "train/train_loss", "train/lr", "train/images_per_s"} <= scalars and not images
    rows = list(csv.DictReader((results / "training_log.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2] and float(rows[0]["train_loss"]) > 0
    assert (results / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert "num_epochs: 2" in (results / "experiment.yaml").read_text()


def test_evaluate_checkpoint_writes_metrics_and_confusion_matrix(trained, tiny_spec, tmp_path):
    results, _ = trained
    out = run_tao("classification", "evaluate", "-e", tiny_spec, "-m", results / "weights/best.pth", "-r", tmp_path)
    metrics = json.loads((tmp_path / "evaluation.json").read_text())
    assert metrics["num_images"] == 18 and 0.0 <= metrics["top1"] <= metrics["top3"] <= 1.0
    assert sum(map(sum, metrics["confusion_matrix"])) == 18 and len(metrics["per_class"]) == 6
    assert (tmp_path / "confusion_matrix.png").is_file() and (tmp_path / "confusion_matrix.json").is_file()
    assert "top-1" in out.stdout and "precision" in out.stdout


def test_prune_retrain_export_int8_evaluate_inference(trained, tiny_spec, tiny_data, tmp_path):
    results, _ = trained
    pruned = tmp_path / "pruned" / "model.pth"
    out = run_tao("classification", "prune", "-m", results / "weights/best.pth", "-o", pruned,
                  "-pth", "1.0", "-eq", "union", "-pg", "8", "-nf", "8")  # nothing above: min filters
    report = json.loads((pruned.parent / "prune_report.json").read_text())
    model = model_from_checkpoint(read_checkpoint(pruned), rebuild)
    # the pruned model runs and matches its report
    assert report["params_after"] == count_params(model) < report["params_before"]
    assert report["macs_after"] == count_macs(model, 32) < report["macs_before"]
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 6)
    assert any(layer["after"] < layer["before"] for layer in report["layers"])
    assert "params" in out.stdout and "MACs" in out.stdout
    assert f"train -e SPEC -r RESULTS_DIR model.pruned_model={pruned} model.pretrained=null" in out.stdout
    assert f"add train.distillation.teacher={results / 'weights/best.pth'}" in out.stdout
    # -pth 1.0 cuts every group to the floor: the report flags them and the CLI says which flag to raise
    assert report["groups"] and all(group["at_min_filters"] for group in report["groups"])
    assert "raise -nf" in out.stdout

    retrain = tmp_path / "retrain"
    out = run_tao("classification", "train", "-e", tiny_spec, "-r", retrain, f"model.pruned_model={pruned}",
                  "train.num_epochs=1", f"train.distillation.teacher={results / 'weights/best.pth'}")
    assert "distillation: learning from" in out.stdout
    retrained = model_from_checkpoint(read_checkpoint(retrain / "weights/best.pth"), rebuild)
    assert count_params(retrained) == report["params_after"]

    fp32 = tmp_path / "export" / "model.onnx"
    out = run_tao("classification", "export", "-m", retrain / "weights/best.pth", "-o", fp32)
    contract = json.loads((tmp_path / "export" / "model.onnx.json").read_text())
    assert contract["class_names"] == sorted(p.name for p in (tiny_data / "train").iterdir())
    assert contract["version"] == 2 and (contract["input_height"], contract["input_width"]) == (32, 32)
    assert len(contract["mean"]) == 3 and contract["input"]["shape"] == ["batch", 3, 32, 32]
    graph = onnx.load(str(fp32))
    assert graph.opset_import[0].version >= 17
    assert graph.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"  # dynamic batch
    assert "max |ORT - PyTorch|" in out.stdout

    int8 = tmp_path / "export" / "model_int8.onnx"
    cache = tmp_path / "export" / "cal.bin"
    out = run_tao("classification", "export", "-m", retrain / "weights/best.pth", "-o", int8, "--data_type", "int8",
            "--cal_image_dir", tiny_data / "train", "--cal_cache_file", cache, "--batches", "2", "--batch_size", "4")
    ops = {node.op_type for node in onnx.load(str(int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert "of the calibration images get FP32's top-1 class" in out.stdout
    # first conv and classifier: quantized with `never`, FP32 (weights straight from initializers) with `always`
    for mode, quantized in (("never", True), ("always", False)):
        path = tmp_path / "export" / f"int8_{mode}.onnx"
        run_tao("classification", "export", "-m", retrain / "weights/best.pth", "-o", path, "--data_type", "int8",
                "--cal_image_dir", tiny_data / "train", "-e", tiny_spec, f"export.int8_fp32_first_last={mode}")
        graph = onnx.load(str(path)).graph
        initializers = {t.name for t in graph.initializer}
        first_conv = next(n for n in graph.node if n.op_type == "Conv")
        assert (first_conv.input[1] not in initializers) == quantized, mode
    lines = cache.read_text().splitlines()
    assert lines[0].startswith("TRT-") and lines[0].endswith("-EntropyCalibration2") and len(lines) > 5
    assert all(len(line.rsplit(": ", 1)[1]) == 8 for line in lines[1:])

    for model_file, kind in ((fp32, "onnx-fp32"), (int8, "onnx-int8")):
        run_tao("classification", "evaluate", "-e", tiny_spec, "-m", model_file, "-r", tmp_path / kind)
        metrics = json.loads((tmp_path / kind / "evaluation.json").read_text())
        assert metrics["model_kind"] == kind and metrics["num_images"] == 18

    run_tao("classification", "inference", "-e", tiny_spec, "-m", int8, "-i", tiny_data / "test", "-r", tmp_path / "inf")
    rows = list(csv.DictReader((tmp_path / "inf" / "inference.csv").open()))
    assert len(rows) == 18 and set(rows[0]) == {"path", "class", "confidence"}
    assert all(r["class"] in contract["class_names"] and 0 < float(r["confidence"]) <= 1 for r in rows)


def test_fp32_onnx_matches_pytorch_accuracy(trained, tiny_spec, tmp_path):
    results, _ = trained
    run_tao("classification", "evaluate", "-e", tiny_spec, "-m", results / "weights/best.pth", "-r", tmp_path / "pt")
    run_tao("classification", "export", "-m", results / "weights/best.pth", "-o", tmp_path / "m.onnx")
    run_tao("classification", "evaluate", "-e", tiny_spec, "-m", tmp_path / "m.onnx", "-r", tmp_path / "onnx")
    pt, ox = (json.loads((tmp_path / d / "evaluation.json").read_text()) for d in ("pt", "onnx"))
    assert pt["confusion_matrix"] == ox["confusion_matrix"]


def test_resume_after_kill_minus_9(tiny_spec, tmp_path):
    results = tmp_path / "run"
    args = [TAO, "classification", "train", "-e", str(tiny_spec), "-r", str(results), "train.num_epochs=4"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "TAO_DOCKER_DISABLE": "1"}, start_new_session=True)
    latest = results / "checkpoints" / "latest.pth"
    deadline = time.time() + 300
    while not latest.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    # kill -9 the run: the launcher and its worker (killing the launcher alone leaves the worker training, and a
    # second train into the folder is then refused while it holds the lock)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    while time.time() < deadline:  # until the worker is gone too (its lock with it)
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    assert latest.exists(), "no checkpoint was written before the kill"
    done = read_checkpoint(latest)["epoch"] + 1
    out = run_tao("classification", "train", "-e", tiny_spec, "-r", results, "train.num_epochs=4")
    assert f"resuming from {latest}" in out.stdout
    epochs = [int(r["epoch"]) for r in csv.DictReader((results / "training_log.csv").open())]
    assert epochs == [1, 2, 3, 4]
    assert f"Epoch {done}/4" not in out.stdout  # finished epochs are not run again
    assert status_records(results)[-1]["status"] == "SUCCESS"


def test_split_list_layout(tiny_data, tmp_path):
    lists = {}
    for split in ("train", "val", "test"):
        lines = [f"{p.parent.name}/{p.name}" for p in sorted((tiny_data / split).glob("*/*.jpg"))]
        lists[split] = tmp_path / f"{split}.txt"
        lists[split].write_text("\n".join(lines) + "\n")
    # an image root that holds CLASS/FILE: here the train folder, with val/test lists pointing into it too
    image_root = tmp_path / "images"
    for split in ("train", "val", "test"):
        for p in (tiny_data / split).glob("*/*.jpg"):
            target = image_root / p.parent.name / p.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                target.write_bytes(p.read_bytes())
    spec = tmp_path / "lists.yaml"
    spec.write_text(f"dataset:\n  image_root: {image_root}\n  train_list: {lists['train']}\n  val_list: {lists['val']}\n"
                    f"  test_list: {lists['test']}\n  image_size: 32\n  num_workers: 0\n"
                    "model:\n  backbone: mobilenet_v3_small\ntrain:\n  num_epochs: 1\n  batch_size: 16\n")
    out = run_tao("classification", "train", "-e", spec, "-r", tmp_path / "run")
    assert "48 train / 18 val images, 6 classes" in out.stdout


def test_user_errors_are_clear_and_exit_non_zero(tiny_spec, tiny_data, tmp_path):
    cases = [
        (["train", "-e", tiny_spec, "-r", tmp_path / "a", "train.num_epoch=5"], "did you mean 'train.num_epochs'"),
        (["train", "-e", tiny_spec, "-r", tmp_path / "b", "dataset.root=/data/nope"], "directory /data/nope/train does not exist"),
        (["train", "-e", tmp_path / "missing.yaml"], "spec file"),
        (["evaluate", "-e", tiny_spec, "-m", tmp_path / "none.pth"], "does not exist"),
        (["train", "-e", tiny_spec, "-r", tmp_path / "c", "model.backbone=resnet19"], "not registered"),
        # brackets in a value are printed as given, not read as console markup
        (["train", "-e", tiny_spec, "-r", tmp_path / "d", "model.backbone=[/x]net"], "'[/x]net' is not registered"),
        (["prune", "-m", tmp_path / "none.pth", "-o", tmp_path / "p.pth"], "does not exist"),
        # flags are checked as their spec keys are: -pg 0 would divide by zero
        (["prune", "-m", tmp_path / "none.pth", "-o", tmp_path / "p.pth", "-pg", "0"],
         "argument -pg/--pruning_granularity: 0 is out of range; expected a value >= 1"),
        (["export", "-m", tmp_path / "none.pth", "-o", tmp_path / "m.onnx", "--batches", "0"],
         "argument --batches: 0 is out of range; expected a value >= 1"),
        (["train", "-e", tiny_spec, "-r", tmp_path / "a_file" / "run"], f"{tmp_path / 'a_file'} is a file"),
        (["prune", "-m", tmp_path / "m.onnx", "-o", tmp_path / "p.pth"], "is an ONNX model; this command takes a .pth"),
    ]
    (tmp_path / "a_file").write_text("in the way of a results folder")
    for args, expected in cases:
        result = run_tao("classification", *args, check=False)
        assert result.returncode == 2, result.stdout
        assert expected in result.stdout and "Traceback" not in result.stdout, result.stdout
    failure = status_records(tmp_path / "b")[-1]
    assert failure["status"] == "FAILURE" and "/data/nope" in failure["message"]


def test_corrupt_image_fails_with_path_or_is_skipped(tiny_data, tmp_path):
    root = tmp_path / "data"
    for split in ("train", "val"):
        for p in (tiny_data / split).glob("*/*.jpg"):
            target = root / split / p.parent.name / p.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(p.read_bytes())
    bad = root / "train" / "circle" / "broken.jpg"
    bad.write_bytes(b"not an image")
    common = ["classification", "train", "-r", tmp_path / "run", f"dataset.root={root}", "dataset.image_size=32",
              "dataset.num_workers=0", "model.backbone=mobilenet_v3_small", "train.num_epochs=1", "train.batch_size=16"]
    spec = tmp_path / "empty.yaml"
    spec.write_text("{}\n")
    result = run_tao(common[0], common[1], "-e", spec, *common[2:], check=False)
    assert result.returncode == 2 and str(bad) in result.stdout and "dataset.on_bad_image=skip" in result.stdout
    result = run_tao(common[0], common[1], "-e", spec, *common[2:], "dataset.on_bad_image=skip")
    assert f"skipping unreadable image {bad}" in result.stdout


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB filesystem (tmpfs): too small for one resnet18 checkpoint. Needs root (CI and the dev machine)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stdout.strip()}")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def test_a_full_disk_is_reported_as_such_not_as_a_bug(tiny_spec, tiny_disk):
    result = run_tao("classification", "train", "-e", tiny_spec, "-r", tiny_disk / "run", check=False)
    assert result.returncode == 2, result.stdout
    assert f"error: could not write {tiny_disk / 'run'}" in result.stdout, result.stdout
    assert "no space left" in result.stdout and "Traceback" not in result.stdout, result.stdout
    assert not list(tiny_disk.rglob("*.tmp")), "a temp file was left on the full disk"


def test_sigterm_stops_training_with_a_failure_status(tiny_spec, tmp_path):
    results = tmp_path / "run"
    proc = subprocess.Popen([TAO, "classification", "train", "-e", str(tiny_spec), "-r", str(results),
                             "train.num_epochs=200"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "TAO_DOCKER_DISABLE": "1"})
    deadline = time.time() + 300
    while not (results / "status.json").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    assert status_records(results)[-1]["status"] == "FAILURE"


def test_a_second_train_into_a_running_results_dir_is_refused_naming_the_first(tiny_spec, tmp_path):
    results = tmp_path / "run"
    first = subprocess.Popen([TAO, "classification", "train", "-e", str(tiny_spec), "-r", str(results),
                              "train.num_epochs=200"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env={**os.environ, "TAO_DOCKER_DISABLE": "1"})
    try:
        deadline = time.time() + 300
        while not (results / "status.json").exists() and time.time() < deadline and first.poll() is None:
            time.sleep(0.2)
        second = run_tao("classification", "train", "-e", tiny_spec, "-r", results, check=False)
        assert second.returncode == 2 and "Traceback" not in second.stdout
        assert f"{results} is in use by a running training (PID " in " ".join(second.stdout.split())
        assert [r["status"] for r in status_records(results)].count("STARTED") == 1  # the second wrote nothing
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
    # the lock went with the first run: a new run resumes there
    assert run_tao("classification", "train", "-e", tiny_spec, "-r", results, "train.num_epochs=2",
                   "train.resume=false").returncode == 0


def test_nothing_the_user_made_is_overwritten(tiny_spec, tmp_path):
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"precious")
    result = run_tao("classification", "generate_sample", "-o", mine, check=False)
    assert result.returncode == 2 and "holds files generate_sample did not write" in result.stdout
    assert (mine / "holiday.jpg").read_bytes() == b"precious"
    run_tao("classification", "generate_sample", "-o", tmp_path / "sample", "--per_class", "1,1,1")
    run_tao("classification", "generate_sample", "-o", tmp_path / "sample", "--per_class", "1,1,1")  # ours: again is fine
    model = tmp_path / "model.pth"
    model.write_bytes(b"trained weights")
    for command in (("prune", "-m", model, "-o", model), ("export", "-m", model, "-o", model)):
        result = run_tao("classification", *command, check=False)
        assert result.returncode == 2 and "is also an input of this command" in result.stdout, result.stdout
    assert model.read_bytes() == b"trained weights"


def test_sigint_to_the_launcher_alone_still_records_the_failure(tiny_spec, tmp_path):
    results = tmp_path / "run"
    proc = subprocess.Popen([TAO, "classification", "train", "-e", str(tiny_spec), "-r", str(results),
                             "train.num_epochs=200"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "TAO_DOCKER_DISABLE": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    while not (results / "status.json").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(1)
    os.kill(proc.pid, signal.SIGINT)  # the launcher only, not its worker (no terminal's process group signal)
    assert proc.wait(timeout=60) == 130
    record = status_records(results)[-1]
    assert record["status"] == "FAILURE" and record["message"] == "interrupted"


def test_int8_calibration_results_folders_inference_sources_and_top_k(trained, tiny_spec, tiny_data, tmp_path):
    """The friction on the prune -> export -> evaluate path: calibration from the spec's training images (folders or
    split lists), evaluate without -r beside the model, inference of a split or a list file, top_k above the classes."""
    results, _ = trained
    best = results / "weights/best.pth"
    out = run_tao("classification", "export", "-m", best, "-o", tmp_path / "a" / "int8.onnx", "--data_type", "int8",
                  "-e", tiny_spec, "--batches", "2", "--batch_size", "4")
    assert "8 calibration images from the training split" in out.stdout
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "train.txt").write_text("".join(f"{p.parent.name}/{p.name}\n" for p in sorted((tiny_data / "train").rglob("*.jpg"))[:5]))
    out = run_tao("classification", "export", "-m", best, "-o", tmp_path / "b" / "int8.onnx", "--data_type", "int8",
                  "-e", tiny_spec, "dataset.root=null", f"dataset.image_root={tiny_data / 'train'}",
                  f"dataset.train_list={lists / 'train.txt'}", "--batches", "2", "--batch_size", "4")
    assert "5 calibration images from the training split" in out.stdout
    out = run_tao("classification", "export", "-m", best, "-o", tmp_path / "c.onnx", "--data_type", "int8", check=False)
    assert out.returncode == 2 and "pass --cal_image_dir DIR, or -e SPEC" in out.stdout

    # evaluate -m without -r: results beside each model, named after it
    models = tmp_path / "models"
    models.mkdir()
    for name in ("first.pth", "second.pth"):
        (models / name).write_bytes(best.read_bytes())
        out = run_tao("classification", "evaluate", "-e", tiny_spec, "-m", models / name, "evaluate.top_k=9")
        assert (models / f"{name[:-4]}_evaluate" / "evaluation.json").is_file()
    assert "evaluate.top_k 9 is more than the model's 6 classes" in out.stdout
    assert "top6" in json.loads((models / "second_evaluate" / "evaluation.json").read_text())

    # inference of a split, of a list file; not both
    run_tao("classification", "inference", "-e", tiny_spec, "-m", best, "--split", "val", "-r", tmp_path / "val")
    assert len(list(csv.DictReader((tmp_path / "val" / "inference.csv").open()))) == 18
    listed = sorted((tiny_data / "test").rglob("*.jpg"))[:4]
    (tmp_path / "some.txt").write_text("# four test images\n" + "".join(f"{p}\n" for p in listed))
    run_tao("classification", "inference", "-e", tiny_spec, "-m", best, "-i", tmp_path / "some.txt")
    rows = list(csv.DictReader((results / "weights" / "best_inference" / "inference.csv").open()))
    assert [r["path"] for r in rows] == [str(p) for p in listed]
    (tmp_path / "bad.txt").write_text(f"{listed[0]}\nmissing.png\n")
    out = run_tao("classification", "inference", "-e", tiny_spec, "-m", best, "-i", tmp_path / "bad.txt", check=False)
    assert out.returncode == 2 and f"{tmp_path / 'bad.txt'}:2: image" in out.stdout and "does not exist" in out.stdout
    out = run_tao("classification", "inference", "-e", tiny_spec, "-m", best, "-i", tmp_path / "some.txt", "--split",
                  "test", check=False)
    assert out.returncode == 2 and "not both" in out.stdout


def test_prune_to_a_macs_target_with_taylor_scores_and_the_sensitivity_table(trained, tiny_spec, tmp_path):
    best = trained[0] / "weights/best.pth"
    out = run_tao("classification", "prune", "-m", best, "-o", tmp_path / "t" / "m.pth", "--target_macs_ratio", "0.5",
                  "--criterion", "taylor", "-e", tiny_spec, "-pg", "1", "-nf", "1")
    report = json.loads((tmp_path / "t" / "prune_report.json").read_text())
    assert report["macs_after"] / report["macs_before"] == pytest.approx(report["target"]["macs_ratio"])
    assert report["target"]["macs_ratio"] <= 0.5 and report["settings"]["pth"] == report["target"]["pth"]
    assert report["settings"]["criterion"] == "taylor" and "--target_macs_ratio 0.5: chose -pth" in out.stdout
    assert "model.pretrained=null train.num_epochs=4 —" in out.stdout  # twice the spec's 2 epochs
    # the same model pruned again cuts the same channels (Taylor's batches and augmentation are seeded): a retrain
    # that resumes after the demo re-runs its prune finds the widths it was trained with
    run_tao("classification", "prune", "-m", best, "-o", tmp_path / "t2" / "m.pth", "--target_macs_ratio", "0.5",
            "--criterion", "taylor", "-e", tiny_spec, "-pg", "1", "-nf", "1")
    assert json.loads((tmp_path / "t2" / "prune_report.json").read_text())["layers"] == report["layers"]

    out = run_tao("classification", "prune", "-m", best, "-o", tmp_path / "s" / "m.pth", "--sensitivity", "-e",
                  tiny_spec, "--sensitivity_images", "12")
    table = json.loads((tmp_path / "s" / "sensitivity.json").read_text())
    assert table["images"] == 12 and 0 <= table["baseline"] <= 1 and len(table["groups"]) >= 5
    metrics = [g["metric"] for g in table["groups"]]
    assert metrics == sorted(metrics) and all(g["after"] < g["before"] for g in table["groups"])
    assert (tmp_path / "s" / "sensitivity.png").read_bytes()[:4] == b"\x89PNG"
    assert len((tmp_path / "s" / "sensitivity.csv").read_text().splitlines()) == len(table["groups"]) + 1
    assert not (tmp_path / "s" / "m.pth").exists() and "no model written" in out.stdout

    out = run_tao("classification", "prune", "-m", best, "-o", tmp_path / "x.pth", "--criterion", "taylor", check=False)
    assert out.returncode == 2 and "pass -e SPEC" in out.stdout
    out = run_tao("classification", "prune", "-m", best, "-o", tmp_path / "x.pth", "--target_macs_ratio", "0.001",
                  check=False)
    assert out.returncode == 2 and "cannot be met" in out.stdout and "lower -nf" in out.stdout


def test_qat_retrain_exports_its_qdq_graph_without_calibration(trained, tiny_spec, tiny_data, tmp_path):
    results, _ = trained
    pruned = tmp_path / "pruned.pth"
    run_tao("classification", "prune", "-m", results / "weights/best.pth", "-o", pruned, "-pth", "0.3", "-nf", "8")
    qat = tmp_path / "qat"
    out = run_tao("classification", "train", "-e", tiny_spec, "-r", qat, f"model.pruned_model={pruned}",
                  "model.pretrained=null", "train.num_epochs=2", "train.enable_qat=true").stdout
    assert "QAT: fake INT8 quantization" in out and "uint8 activations" in out
    best = qat / "weights" / "best.pth"
    assert read_checkpoint(best)["info"].network["qat"] == {"activations": "uint8"}
    # the checkpoint evaluates as the INT8 model it simulates
    run_tao("classification", "evaluate", "-e", tiny_spec, "-m", best, "-r", tmp_path / "eval_pth")
    simulated = json.loads((tmp_path / "eval_pth" / "evaluation.json").read_text())

    onnx_path = tmp_path / "export" / "qat.onnx"
    out = run_tao("classification", "export", "-m", best, "-o", onnx_path, "--data_type", "int8", "-e", tiny_spec,
                  "--batches", "2", "--batch_size", "4").stdout
    assert "the trained scales, no calibration" in out and "images get the PyTorch QAT model's top-1 class" in out
    graph = onnx.load(str(onnx_path)).graph
    assert sum(n.op_type == "QuantizeLinear" for n in graph.node) > 5
    assert not (tmp_path / "export" / "qat_fp32.onnx").exists()
    assert json.loads((tmp_path / "export" / "qat.onnx.json").read_text())["data_type"] == "int8"
    run_tao("classification", "evaluate", "-e", tiny_spec, "-m", onnx_path, "-r", tmp_path / "eval_onnx")
    deployed = json.loads((tmp_path / "eval_onnx" / "evaluation.json").read_text())
    assert deployed["model_kind"] == "onnx-int8" and deployed["num_images"] == 18
    assert abs(deployed["top1"] - simulated["top1"]) <= 2 / 18  # ORT's integer kernels: what QAT simulated

    refused = {
        "fp32 export": (["export", "-m", best, "-o", tmp_path / "x.onnx"], "export it with --data_type int8"),
        "a cache": (["export", "-m", best, "-o", tmp_path / "y.onnx", "--data_type", "int8", "--cal_cache_file",
                     tmp_path / "c.bin"], "needs no calibration cache"),
        "another target": (["export", "-m", best, "-o", tmp_path / "z.onnx", "--data_type", "int8", "-e", tiny_spec,
                            "export.int8_target=tensorrt"], "learned uint8 ones"),
        "pruning it": (["prune", "-m", best, "-o", tmp_path / "p.pth"], "prune the float model it was trained from"),
    }
    for what, (args, message) in refused.items():
        result = run_tao("classification", *args, check=False)
        assert result.returncode == 2 and message in result.stdout and "Traceback" not in result.stdout, what
    result = run_tao("deploy", "classification", "gen_trt_engine", "-m", onnx_path, "--data_type", "int8",
                     check=False)
    assert result.returncode == 2 and "TensorRT takes symmetric int8 only" in result.stdout
    # trained for TensorRT (symmetric int8): gen_trt_engine takes it with no calibration images, and here stops only
    # because TensorRT itself is missing
    run_tao("classification", "train", "-e", tiny_spec, "-r", tmp_path / "qat_trt", f"model.pruned_model={pruned}",
            "model.pretrained=null", "train.num_epochs=1", "train.enable_qat=true", "export.int8_target=tensorrt")
    trt_onnx = tmp_path / "export" / "qat_trt.onnx"
    run_tao("classification", "export", "-m", tmp_path / "qat_trt" / "weights" / "best.pth", "-o", trt_onnx,
            "--data_type", "int8", "-e", tiny_spec, "export.int8_target=tensorrt", "--batches", "1", "--batch_size", "4")
    result = run_tao("deploy", "classification", "gen_trt_engine", "-m", trt_onnx, "--data_type", "int8", check=False)
    if importlib.util.find_spec("tensorrt") is None:
        assert result.returncode == 2 and "needs TensorRT" in result.stdout and "calibration" not in result.stdout
    else:
        assert result.returncode == 0, result.stdout
