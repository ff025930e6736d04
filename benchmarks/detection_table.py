"""The BCCD detector table (issue 22): every network's results of `detection_bccd.py --tag TAG`, with the ONNX
models of all of them timed again side by side in this one process (round-robin, so load from elsewhere slows all
alike), at batch 1 and 8 (batch 1 only for graphs exported at a fixed batch: Faster R-CNN). Checks the issue's
targets against RetinaNet FP32 (the first: the fastest model of a new detector, unpruned, pruned or INT8, that
reaches 0.88 mAP@0.5, at RetinaNet's batch-1 latency or under). Writes benchmarks/results/bccd_detectors_<TAG>.json
and prints the markdown table.

  .venv/bin/python benchmarks/detection_table.py --tag 480x352
"""

import argparse
import json
import sys
from pathlib import Path

from tao_cv.engine.profile import cpu_summary, ort_latencies_ms
from tao_inference.contract import read_contract

ROOT = Path(__file__).resolve().parents[1]
ORDER = ("detectnet_v2", "retinanet", "yolo_v4", "yolo_v4_tiny", "ssd", "faster_rcnn")
STAGES = ("unpruned", "unpruned_int8", "pruned", "int8")


def _train_minutes(run):
    """The training's wall time, or (a run that reused a finished training) the sum of its epochs' train seconds."""
    seconds = run.get("train_wall_s") or sum(run.get("train_seconds_per_epoch", []))
    return round(seconds / 60, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    runs = {}
    for network in ORDER:
        path = args.results / f"bccd_{network}_{args.tag}.json"
        if path.is_file():
            runs[network] = json.loads(path.read_text())
    if not runs:
        sys.exit(f"no {args.results}/bccd_*_{args.tag}.json: run detection_bccd.py --tag {args.tag} first")
    width, height = next(iter(runs.values()))["input"]
    models = [(network, stage, Path(run["onnx"][stage])) for network, run in runs.items() for stage in STAGES
              if stage in run.get("onnx", {})]
    fixed = {(n, s) for n, s, p in models if isinstance(read_contract(p)[1]["input"]["shape"][0], int)}
    timed = {}
    for batch in (1, 8):
        chosen = [(n, s, p) for n, s, p in models if batch == 1 or (n, s) not in fixed]
        for (network, stage, _), ms in zip(chosen, ort_latencies_ms([p for _, _, p in chosen], (height, width), batch,
                                                                      args.rounds, 3)):
            timed.setdefault((network, stage), {})[f"b{batch}_ms"] = round(ms, 2)
    base = timed[("retinanet", "unpruned")] if ("retinanet", "unpruned") in timed else None
    rows = []
    for network, run in runs.items():
        for stage in STAGES:
            if stage not in run:
                continue
            r = run[stage]
            ms = timed.get((network, stage), {})
            rows.append({"network": network, "stage": stage, "mAP_50": r["mAP_50"], "coco": r["coco_mAP_50_95"],
                         "per_class": r["per_class_AP_50"], "macs": r["macs"], **ms,
                         "train_min": _train_minutes(run) if stage == "unpruned" else None,
                         "speedup_b1_vs_retinanet": round(base["b1_ms"] / ms["b1_ms"], 2) if base and "b1_ms" in ms else None})
    new = [r for r in rows if r["network"] not in ("retinanet", "detectnet_v2")]
    best_new = max((r for r in new if r["stage"] == "unpruned"), key=lambda r: r["mAP_50"], default=None)
    # the deployable model (unpruned, pruned or INT8) of a new detector that reaches 0.88 fastest
    fastest_at_target = min((r for r in new if r["mAP_50"] >= 0.88 and "b1_ms" in r), key=lambda r: r["b1_ms"],
                            default=None)
    retina = next((r for r in rows if r["network"] == "retinanet" and r["stage"] == "unpruned"), None)
    tiny = next((r for r in rows if r["network"] == "yolo_v4_tiny" and r["stage"] == "int8"), None)
    targets = {}
    if best_new and retina:
        fastest = fastest_at_target and {k: fastest_at_target[k] for k in ("network", "stage", "mAP_50", "b1_ms")}
        targets["best_new_detector"] = {"network": best_new["network"], "mAP_50": best_new["mAP_50"],
                                        "b1_ms": best_new.get("b1_ms"), "retinanet_b1_ms": retina.get("b1_ms"),
                                        "fastest_model_at_0.88": fastest,
                                        "met": bool(fastest) and fastest["b1_ms"] <= retina["b1_ms"]}
    if tiny and retina:
        targets["pruned_yolo_v4_tiny_int8"] = {"speedup_b1": tiny["speedup_b1_vs_retinanet"],
                                               "mAP_drop_pt": round(100 * (retina["mAP_50"] - tiny["mAP_50"]), 1),
                                               "met": (tiny["speedup_b1_vs_retinanet"] or 0) >= 3
                                               and retina["mAP_50"] - tiny["mAP_50"] <= 0.03}
    summary = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "cpu": cpu_summary(), "input": [width, height],
               "runs": {n: {k: run[k] for k in ("command", "epochs", "retrain_epochs", "train_wall_s", "val_mAP_per_epoch")
                            if k in run} for n, run in runs.items()}, "rows": rows, "targets": targets}
    (args.results / f"bccd_detectors_{args.tag}.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"CPU: {summary['cpu']}, input {width}x{height}\n")
    print("| network | model | mAP@0.5 | RBC | WBC | Platelets | COCO mAP | MACs | train min | ORT ms b1 | ORT ms b8 "
          "| b1 speed-up vs RetinaNet FP32 |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ap = r["per_class"]
        print(f"| {r['network']} | {r['stage']} | {r['mAP_50']:.3f} | {ap.get('rbc', 0):.3f} | {ap.get('wbc', 0):.3f} | "
              f"{ap.get('platelets', 0):.3f} | {r['coco']:.3f} | {r['macs'] / 1e9:.2f} G | {r['train_min'] or ''} | "
              f"{r.get('b1_ms', '—')} | {r.get('b8_ms', '—')} | {r['speedup_b1_vs_retinanet'] or '—'} |")
    print("\ntargets:", json.dumps(targets, indent=1))


if __name__ == "__main__":
    main()
