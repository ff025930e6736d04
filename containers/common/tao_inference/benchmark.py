"""`benchmark`: one table across the formats of a model — PyTorch .pth, ONNX FP32 / INT8, TensorRT engines —
with the task's metric on the evaluation split, latency at batch 1 and batch N, throughput and speed-up over the
first row. Every row is measured alone (one model loaded at a time); a failing format is a row that says why,
never the end of the run. Written as benchmark.csv and benchmark.md."""

import csv
import io
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from . import preprocess
from .errors import UserError
from .fileio import atomic_path, make_dirs, write_text

COLUMNS = ("model", "format", "status", "size MB", "metric", "ms b1", "ms bN", "img/s bN", "speed-up bN")
FORMAT_NAMES = {"pytorch": "PyTorch FP32", "onnx-fp32": "ONNX FP32", "onnx-int8": "ONNX INT8",
                "tensorrt-fp32": "TensorRT FP32", "tensorrt-fp16": "TensorRT FP16", "tensorrt-int8": "TensorRT INT8"}


def file_size_mb(path):
    path = Path(path)
    data = sum(p.stat().st_size for p in path.parent.glob(path.name + ".data")) if path.suffix == ".onnx" else 0
    return (path.stat().st_size + data) / 2**20


def latency_ms(predictor, batch, runs, warmup):
    """Median wall time of one call on `batch`, after `warmup` calls."""
    for _ in range(warmup):
        predictor(batch)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        predictor(batch)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def timing_batch(paths, info, batch_size):
    """Real images of the evaluation split, preprocessed as evaluation does; repeated when there are fewer."""
    images = [preprocess.to_input(preprocess.load_rgb(p), info) for p in paths[:batch_size]]
    if not images:
        raise UserError("the evaluation split has no images to time the models on")
    while len(images) < batch_size:
        images += images[: batch_size - len(images)]
    return np.stack(images).astype(np.float32)


def measure(task, spec, path, open_model, results_dir, batch_size, runs, warmup, paths):
    """One row: opens the model, evaluates it (quietly; its files under results_dir/<name>), times it."""
    row = {"model": str(path), "format": Path(path).suffix, "status": "✓", "size MB": None, "metric": None,
           "ms b1": None, "ms bN": None}
    try:
        predictor = open_model(path, spec)
        row["size MB"] = round(file_size_mb(path), 2)
        row["format"] = FORMAT_NAMES.get(predictor.kind, predictor.kind) + _where(predictor)
    except (UserError, OSError) as exc:
        row["status"] = f"✗ {exc}"
        return row
    except Exception as exc:  # a format that fails to load must not stop the others
        row["status"] = f"✗ {type(exc).__name__}: {exc}"
        return row
    try:
        batch = timing_batch(paths, predictor.info, batch_size)
        row["ms b1"] = round(latency_ms(predictor, batch[:1], runs, warmup), 2)
        row["ms bN"] = round(latency_ms(predictor, batch, runs, warmup), 2)
    except Exception as exc:
        row["status"] = f"✗ inference failed: {type(exc).__name__}: {exc}"
        return row
    try:
        quiet = Console(file=io.StringIO())
        kpi = task.kind.evaluate(predictor, spec, Path(results_dir) / Path(path).name.replace(".", "_"), str(path), quiet)
        name, value = next(iter(kpi.items()))
        row["metric"], row["metric name"] = round(float(value), 4), name
    except Exception as exc:
        row["status"] = f"runs, but evaluation failed: {type(exc).__name__}: {exc}"
    finally:
        del predictor
    return row


def _where(predictor):
    device = getattr(predictor, "device", None)
    return f" ({str(device).split(':')[0].upper()})" if device else ""


def finish(rows, batch_size):
    """Throughput and speed-up (batch N latency of the first timed row over each row's)."""
    reference = next((r["ms bN"] for r in rows if r.get("ms bN")), None)
    for row in rows:
        timed = row.get("ms bN")
        row["img/s bN"] = round(1000 * batch_size / timed, 1) if timed else None
        row["speed-up bN"] = f"{reference / timed:.2f}x" if reference and timed else None
    return rows


def write_tables(rows, results_dir, batch_size, metric_name, console):
    header = [c.replace("bN", f"b{batch_size}") if "bN" in c else (metric_name if c == "metric" else c) for c in COLUMNS]
    make_dirs(results_dir)
    with atomic_path(Path(results_dir) / "benchmark.csv") as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in COLUMNS])
    cell = lambda v: "" if v is None else str(v)  # noqa: E731
    markdown = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    markdown += ["| " + " | ".join(cell(row.get(c)) for c in COLUMNS) + " |" for row in rows]
    write_text(Path(results_dir) / "benchmark.md", "\n".join(markdown) + "\n")
    table = Table(title=f"benchmark: {metric_name} on the evaluation split, latency median (ms), batch 1 and {batch_size}")
    for column in header:
        table.add_column(column, justify="left" if column in ("model", "format", "status") else "right")
    for row in rows:
        table.add_row(*(cell(row.get(c)) for c in COLUMNS))
    console.print(table)
    console.print(f"→ {results_dir}/benchmark.csv, benchmark.md")
