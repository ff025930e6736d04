"""Faster R-CNN's proposals per image (`model.test_rpn_post_nms_topn`, a test-time key) against its accuracy and
latency on BCCD: the finished `detection_bccd.py --network faster_rcnn --tag TAG` checkpoint exported FP32 and INT8
at each count through the real CLI (the spec's test-time key replaces the trained one), evaluated on test, and
timed side by side with RetinaNet's unpruned FP32 of the same tag.
Writes benchmarks/results/bccd_faster_rcnn_<TAG>_proposals.json.

  .venv/bin/python benchmarks/faster_rcnn_proposals.py --tag 480x352 --proposals 300 100 50   # 7 min
"""

import argparse
import json
import sys
from pathlib import Path

from detection_bccd import ROOT, evaluate, tao
from tao_cv.engine.profile import cpu_summary, ort_latencies_ms


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--proposals", type=int, nargs="+", default=[300, 100, 50])
    parser.add_argument("--rounds", type=int, default=15, help="timing rounds (round-robin, 3 calls per model each)")
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "runs"))
    args = parser.parse_args()
    work, retinanet = Path(args.work) / f"bccd_faster_rcnn_{args.tag}", Path(args.work) / f"bccd_retinanet_{args.tag}"
    spec, index, best = work / "spec.yaml", work / "converted" / "index.json", work / "unpruned" / "weights" / "best.pth"
    width, height = json.loads((ROOT / "benchmarks" / "results" / f"bccd_faster_rcnn_{args.tag}.json").read_text())["input"]
    rows, models = [], [retinanet / "unpruned.onnx"]
    for count in args.proposals:
        key = f"model.test_rpn_post_nms_topn={count}"
        for data_type in ("fp32", "int8"):
            onnx = work / "proposals" / f"{count}_{data_type}.onnx"
            tao("faster_rcnn", "export", "-m", best, "-o", onnx, "-e", spec, "--data_type", data_type, key,
                f"dataset.index={index}")
            rows.append({"proposals": count, "data_type": data_type,
                         **evaluate("faster_rcnn", spec, onnx, work / "proposals" / f"eval_{count}_{data_type}", index)})
            models.append(onnx)
    retinanet_ms, *timed = ort_latencies_ms(models, (height, width), 1, args.rounds, 3)
    for row, ms in zip(rows, timed):
        row.update(b1_ms=round(ms, 2), vs_retinanet_fp32=round(ms / retinanet_ms, 2))
    result = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "cpu": cpu_summary(),
              "retinanet_fp32_b1_ms": round(retinanet_ms, 2), "rows": rows}
    out = ROOT / "benchmarks" / "results" / f"bccd_faster_rcnn_{args.tag}_proposals.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"RetinaNet FP32 b1: {retinanet_ms:.1f} ms\n\n| proposals | model | mAP@0.5 | Platelets | COCO mAP | ORT ms b1 | "
          "vs RetinaNet FP32 |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['proposals']} | {r['data_type']} | {r['mAP_50']:.3f} | {r['per_class_AP_50']['platelets']:.3f} | "
              f"{r['coco_mAP_50_95']:.3f} | {r['b1_ms']:.1f} | {r['vs_retinanet_fp32']:.2f} |")


if __name__ == "__main__":
    main()
