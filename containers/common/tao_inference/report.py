"""`report -r RESULTS_DIR`: one page of what a `tao pipeline` run gained and lost at each stage, from the files its
steps left — report.md (pictures beside it, in report_files/) and a self-contained report.html (pictures inlined).

Sections: the steps (status, time); the stages table (metric, params, MACs, ONNX latency at batch 1 and N, file
size, speed-up over the unpruned model); INT8 / QAT agreement; training curves; the confusion matrix or PR curves;
the pruned layers' widths; the environment (CPU and its INT8 instructions, GPU, versions). A missing file leaves its
section saying which step writes it, so a partial run still gets a report.
"""

import base64
import csv
import html
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

from .environment import summary as environment_summary
from .errors import UserError
from .fileio import make_dirs, write_text
from .plots import figure_module, save_figure

STAGES = (  # (row name, benchmark ONNX file stem, evaluation folder, params/MACs from prune_report: before|after)
    ("unpruned FP32", "unpruned", "evaluate_deployed/unpruned", "before"),
    ("pruned + retrained FP32", "pruned", "evaluate_deployed/pruned", "after"),
    ("pruned INT8 (calibrated)", "pruned_int8", "evaluate_deployed/pruned_int8", "after"),
    ("pruned QAT INT8", "pruned_qat", "evaluate_deployed/pruned_qat", "after"),
)


def _json(path):
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _status_kpi(folder):
    """The last kpi a worker's status.json recorded in `folder`."""
    path = Path(folder) / "status.json"
    if not path.is_file():
        return {}
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return next((r["kpi"] for r in reversed(records) if r.get("kpi")), {})


def benchmark_rows(results):
    """{ONNX file stem: row} of benchmark.csv, whose metric and batch-N columns are named after the task's metric
    and the batch (top1 / mAP ..., ms b16): read here as "metric", "ms bN", "batch"."""
    path = results / "benchmark" / "benchmark.csv"
    if not path.is_file():
        return {}
    reader = csv.DictReader(path.open())
    fixed = {"model", "format", "status", "size MB", "ms b1"}
    metric = next((c for c in reader.fieldnames if c not in fixed and not c.startswith(("ms b", "img/s", "speed-up"))),
                  None)
    batch = next((c[4:] for c in reader.fieldnames if c.startswith("ms b") and c != "ms b1"), "N")
    return {Path(row["model"]).stem: {**row, "metric": row.get(metric), "metric name": metric,
                                      "ms bN": row.get(f"ms b{batch}"), "batch": batch} for row in reader}


def _number(value, digits=3):
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return "—"


def stages_table(results):
    prune = _json(results / "prune" / "prune_report.json") or {}
    bench = benchmark_rows(results)
    first = next(iter(bench.values()), {})
    batch = first.get("batch", "N")
    header = ["stage", first.get("metric name") or "metric", "params", "MACs", "ONNX ms b1", f"ONNX ms b{batch}",
              "size MB", f"speed-up b{batch}"]
    rows = []
    base_ms = None
    for name, stem, evaluation, side in STAGES:
        if stem not in bench:
            continue
        row = bench[stem]
        params, macs = prune.get(f"params_{side}"), prune.get(f"macs_{side}")
        ms_n = row.get("ms bN")
        base_ms = base_ms or (float(ms_n) if _number(ms_n) != "—" else None)
        speed = f"{base_ms / float(ms_n):.2f}x" if base_ms and _number(ms_n) != "—" else "—"
        rows.append([name, f"{row.get('metric') or '—'}", f"{params / 1e6:.2f} M" if params else "—",
                     f"{macs / 1e9:.3f} G" if macs else "—", _number(row.get("ms b1"), 2), _number(ms_n, 2),
                     _number(row.get("size MB"), 2), speed])
    return header, rows


def agreement_lines(results):
    kpi = _status_kpi(results / "export_int8")
    if "int8_agreement" not in kpi:
        return ["(no INT8 export in this run: the export_int8 step writes it)"]
    how = "QAT Q/DQ vs the PyTorch QAT model" if kpi.get("qat") else "calibrated INT8 vs FP32"
    lines = [f"{how}: {kpi['int8_agreement']:.1%} agreement on the check images"]
    if kpi.get("fp32_first_last"):
        lines.append("the first convolution and the output layers were kept FP32 (export.int8_fp32_first_last: auto)")
    return lines


def plot_layer_widths(path, layers):
    """Each pruned layer's output width before and after pruning (the prune report's per-layer table)."""
    plt = figure_module()
    fig, ax = plt.subplots(figsize=(max(6.0, 0.18 * len(layers) + 2), 3.6))
    x = range(len(layers))
    ax.bar(x, [layer["before"] for layer in layers], color="#bdc3c7", label="before")
    ax.bar(x, [layer["after"] for layer in layers], color="#2e86c1", label="after")
    ax.set(xlabel="layer (network order)", ylabel="output channels", title="widths after pruning")
    ax.set_xticks([])
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def pictures(results, files):
    """(title, copied path) of every picture the steps left, copied into `files`."""
    found = []
    prune = _json(results / "prune" / "prune_report.json")
    if prune and prune.get("layers"):
        plot_layer_widths(files / "prune_widths.png", prune["layers"])
        found.append(("pruned layer widths", files / "prune_widths.png"))
    sources = [("training curves", results / "train" / "curves.png"),
               ("retraining curves", results / "retrain" / "curves.png")]
    for folder in ("evaluate", "evaluate_retrained"):
        sources += [(f"{folder}: {p.stem.replace('_', ' ')}", p) for p in sorted((results / folder).glob("*.png"))]
    for title, source in sources:
        if source.is_file():
            target = files / f"{source.parent.name}_{source.name}"
            shutil.copyfile(source, target)
            found.append((title, target))
    return found


def _md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows]


def _html_table(header, rows):
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# Set on the page once it has loaded: how many pictures decoded (a headless browser reads it back in the tests).
SELF_CHECK = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images-loaded", loaded + "/" + images.length);
});
</script>"""
STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse;"
         "margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child"
         "{text-align:left}img{max-width:100%;border:1px solid #eee}figure{margin:1em 0}")


def write_report(results_dir, console=None):
    results = Path(results_dir)
    state = _json(results / "pipeline.json")
    if state is None:
        raise UserError(f"{results}/pipeline.json not found: report reads what `tao pipeline -r {results}` wrote")
    files = make_dirs(results / "report_files")
    env = environment_summary()
    step_rows = [[name, "this page" if name == "report" else record.get("status", "?"),
                  _number(record.get("seconds"), 1), record.get("reason", "")] for name, record in state.items()]
    stage_header, stage_rows = stages_table(results)
    agreement = agreement_lines(results)
    found = pictures(results, files)
    env_rows = [["CPU", f"{env['cpu']['model']} ({env['cores']} cores)"],
                ["INT8 dot product", env["cpu"]["int8_dot_product"]], ["GPU", env["gpu"]],
                ["Python", env["python"]], *[[name, version] for name, version in env["versions"].items()]]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    no_stages = ["(no benchmark yet: the benchmark step writes the stages table)"] if not stage_rows else []

    md = [f"# Pipeline report — {results}", "", f"written {when}", "", "## Steps", "",
          *_md_table(["step", "status", "seconds", "note"], step_rows), "", "## Stages", "",
          "Speed-up: the unpruned FP32 model's ONNX Runtime latency at batch N over the row's.", "",
          *(no_stages or _md_table(stage_header, stage_rows)), "", "## INT8", "", *agreement, "", "## Pictures", ""]
    md += [f"![{title}](report_files/{path.name})" for title, path in found] or ["(none yet)"]
    md += ["", "## Environment", "", *_md_table(["", ""], env_rows), ""]
    write_text(results / "report.md", "\n".join(md))

    def inlined(path):
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()

    body = [f"<h1>Pipeline report</h1><p>{html.escape(str(results))} — written {when}</p>",
            "<h2>Steps</h2>", _html_table(["step", "status", "seconds", "note"], step_rows), "<h2>Stages</h2>",
            "<p>Speed-up: the unpruned FP32 model's ONNX Runtime latency at batch N over the row's.</p>",
            (f"<p>{html.escape(no_stages[0])}</p>" if no_stages else _html_table(stage_header, stage_rows)),
            "<h2>INT8</h2>", *[f"<p>{html.escape(line)}</p>" for line in agreement], "<h2>Pictures</h2>"]
    body += [f'<figure><img src="{inlined(path)}" alt="{html.escape(title)}"><figcaption>{html.escape(title)}'
             "</figcaption></figure>" for title, path in found] or ["<p>(none yet)</p>"]
    body += ["<h2>Environment</h2>", _html_table(["", ""], env_rows)]
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Pipeline report</title><style>{STYLE}</style>"
            f"</head><body>{''.join(body)}{SELF_CHECK}</body></html>")
    write_text(results / "report.html", page)
    if console is not None:
        console.print(f"report → {results / 'report.html'} (self-contained), {results / 'report.md'} "
                      f"(+ report_files/): {len(stage_rows)} stages, {len(found)} pictures")
    return results / "report.html"
