"""Print the demo's closing table: accuracy, params, MACs, ONNX Runtime latency and size per model."""

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tao_cv.engine.checkpoint import read_checkpoint
from tao_cv.engine.profile import count_macs, count_params, ort_latencies_ms
from tao_cv.engine.checkpoint import model_from_checkpoint
from tao_cv.tasks import ADAPTERS

rebuild = ADAPTERS["classification"].rebuild


def main(out):
    out = Path(out)
    rows = [("unpruned FP32", "unpruned/weights/best.pth", "unpruned"),
            ("pruned + retrained FP32", "retrain/weights/best.pth", "pruned"),
            ("pruned + retrained INT8", "retrain/weights/best.pth", "pruned_int8")]
    table = Table(title=f"demo results ({out}) — test split of the SYNTHETIC sample data, ONNX Runtime CPU")
    for column in ("model", "top-1", "params", "MACs", "ORT ms (b1)", "ORT ms (b16)", "size MB"):
        table.add_column(column, justify="left" if column == "model" else "right")
    onnx_paths = [out / "export" / f"{onnx_name}.onnx" for _, _, onnx_name in rows]
    size = read_checkpoint(out / rows[0][1])["info"].input_height
    latencies = {batch: ort_latencies_ms(onnx_paths, size, batch) for batch in (1, 16)}
    for index, ((label, checkpoint, onnx_name), onnx_path) in enumerate(zip(rows, onnx_paths)):
        model = model_from_checkpoint(read_checkpoint(out / checkpoint), rebuild)
        top1 = json.loads((out / "eval" / onnx_name / "evaluation.json").read_text())["top1"]
        table.add_row(label, f"{top1:.4f}", f"{count_params(model) / 1e6:.2f} M", f"{count_macs(model, size) / 1e6:.1f} M",
                      f"{latencies[1][index]:.2f}", f"{latencies[16][index]:.2f}", f"{onnx_path.stat().st_size / 1e6:.1f}")
    Console(width=130).print(table)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "demo_runs")
