"""DetectNet_v2 postprocessing on BCCD, side by side on one exported model: mAP@0.5 per class and boxes per image
(at inference.min_confidence) against the ground truth per image, for each clustering setting.

The model runs once over the test split; every setting decodes the same raw outputs (the toolkit's own decoder
and metrics), so the differences are the postprocessing's alone.

  .venv/bin/python benchmarks/detectnet_postprocessing.py benchmarks/runs/bccd_detectnet_v2/unpruned.onnx \\
      benchmarks/runs/bccd_detectnet_v2/spec.yaml benchmarks/runs/bccd_detectnet_v2/converted/index.json LABEL
writes results/bccd_detectnet_v2_postprocessing_LABEL.json.
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from tao_inference.data.detection_index import check_readable
from tao_inference.metrics import voc_map
from tao_inference.networks import detectnet_v2
from tao_inference.runtime import OnnxPredictor
from tao_inference.spec import load_spec
from tao_inference.tasks import TASKS
from tao_inference.tasks.detection import eval_samples, load_index, predict

SETTINGS = {
    "nms 0.45, cov 0.3 (defaults before)": {"method": "nms", "coverage_threshold": 0.3, "nms_iou": 0.45},
    "nms 0.4, cov 0.3 (the benchmark's spec)": {"method": "nms", "coverage_threshold": 0.3, "nms_iou": 0.4},
    "nms 0.3, cov 0.3": {"method": "nms", "coverage_threshold": 0.3, "nms_iou": 0.3},
    "nms 0.5, cov 0.5": {"method": "nms", "coverage_threshold": 0.5, "nms_iou": 0.5},
    "dbscan eps 0.3, cov 0.3": {"method": "dbscan", "coverage_threshold": 0.3, "eps": 0.3},
    "dbscan eps 0.2, cov 0.3": {"method": "dbscan", "coverage_threshold": 0.3, "eps": 0.2},
    "dbscan eps 0.15, cov 0.1": {"method": "dbscan", "coverage_threshold": 0.1, "eps": 0.15},
    "nms 0.4, cov 0.3 + dataset_convert's per-class minimum_height": {"method": "nms", "coverage_threshold": 0.3,
                                                                     "nms_iou": 0.4, "per_class": "suggested"},
}


class Cached:
    """The model's outputs per batch, computed once: each setting re-decodes them."""

    def __init__(self, predictor):
        self.predictor, self.info, self.decoder, self.kind, self.cache = predictor, predictor.info, predictor.decoder, predictor.kind, {}

    def __call__(self, images):
        key = hashlib.sha1(images.tobytes()).digest()
        if key not in self.cache:
            self.cache[key] = self.predictor(images)
        return self.cache[key]


def main(model, spec_path, index, label="peaked"):
    spec = load_spec(TASKS["detectnet_v2"].spec_class, spec_path, [f"dataset.index={index}"])
    predictor = Cached(OnnxPredictor(model))
    samples = eval_samples(spec, "test")
    classes = predictor.info.class_names
    shown = spec.inference.min_confidence
    rows = {}
    train = load_index(spec)["train"]
    suggested = detectnet_v2.suggested_per_class(train, check_readable({"train": train, "val": [], "test": []}),
                                                 spec.dataset.image_height)
    for name, setting in SETTINGS.items():
        for key, value in setting.items():
            if key != "per_class":
                setattr(spec.postprocessing.default, key, value)
        spec.postprocessing.per_class = suggested if setting.get("per_class") == "suggested" else None
        decode = detectnet_v2.decoder(predictor.info, predictor.decoder, spec)
        predictions, truth, _ = predict(predictor, samples, lambda outputs: decode(outputs), spec.evaluate.batch_size)
        result = voc_map(predictions, truth, classes, 0.5, "integrate")
        per_class_boxes = {c: float(np.mean([int(((p["labels"] == i) & (p["scores"] >= shown)).sum()) for p in predictions]))
                           for i, c in enumerate(classes)}
        per_class_truth = {c: float(np.mean([int((t["labels"] == i).sum()) for t in truth])) for i, c in enumerate(classes)}
        rows[name] = {"setting": {**setting, **({"per_class": suggested} if setting.get("per_class") else {})}, "mAP": round(result["mAP"], 4),
                      "AP": {c: round(v["AP"], 4) for c, v in result["per_class"].items()},
                      "boxes_per_image": {c: round(v, 2) for c, v in per_class_boxes.items()},
                      "truth_per_image": {c: round(v, 2) for c, v in per_class_truth.items()}}
        print(f"| {name} | {result['mAP']:.3f} | " + " | ".join(
            f"{result['per_class'][c]['AP']:.3f} ({per_class_boxes[c]:.1f} / {per_class_truth[c]:.1f})" for c in classes) + " |")
    out = Path(__file__).parent / "results" / f"bccd_detectnet_v2_postprocessing_{label}.json"
    out.write_text(json.dumps({"command": " ".join(sys.argv), "model": str(model), "min_confidence": shown,
                               "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:5])
