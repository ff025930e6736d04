"""Object detection subcommands, shared by every detection network: KITTI-style data and its index, training
through the shared engine, mAP, inference outputs, pruning and export. What differs between networks — the
model, its loss, how raw outputs decode into boxes, the export contract — comes from the network's adapter
(tasks/detectnet_v2.py, tasks/retinanet.py)."""

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from rich.console import Console
from rich.table import Table

from ..data.converters import write_kitti_dataset
from ..data.detection import (SPLITS, DetectionDataset, box_statistics, build_index, check_readable, collate,
                              detection_transform, load_source)
from ..data.kitti import IMAGE_SUFFIXES, KittiObject, write_kitti
from ..data.sample import generate_detection_sample
from ..engine.checkpoint import model_from_checkpoint, read_checkpoint
from ..engine.detection_metrics import coco_map, plot_pr_curves, voc_map
from ..engine.device import pick_device
from ..engine.logs import StatusLogger
from ..engine.predictors import load_predictor
from ..engine import distributed
from ..engine.trainer import fit, make_train_loader
from ..errors import UserError
from ..export.int8 import quantize_qdq, tensor_ranges, write_trt_cache
from ..export.onnx_export import INPUT_NAME, attach_contract, export_onnx
from ..fileio import atomic_path, require_folder, write_json
from ..models import build_classifier, get_backbone
from ..spec import dump_spec, load_spec
from .common import (add_export_parser, add_prune_parser, add_spec_arguments, load_pretrained, prune_command,
                     read_pruned_model)

console = Console(soft_wrap=True)


# ---------------------------------------------------------------- model and data specifics

def base_meta(net, spec, classes):
    backbone = get_backbone(spec.model.backbone)
    return {"task": net.name, "backbone": spec.model.backbone, "num_classes": len(classes),
            "class_names": list(classes), "image_width": spec.dataset.image_width,
            "image_height": spec.dataset.image_height, "mean": list(spec.dataset.mean or backbone.mean),
            "std": list(spec.dataset.std or backbone.std), "pruned": False, **net.meta(spec)}


def pretrained_classifier(spec):
    """A registry classifier with the spec's pretrained weights: the detector's backbone is cut from it."""
    classifier = build_classifier(spec.model.backbone, 1, 0.0)
    if spec.model.pretrained:
        load_pretrained(classifier, spec.model)
    return classifier


def initial_model(net, spec, classes):
    """(model, meta): a pruned model to retrain, or a new network on a (pretrained) registry backbone."""
    if spec.model.pruned_model:
        payload = read_pruned_model(spec.model, classes)
        return model_from_checkpoint(payload, net.rebuild), payload["meta"]
    meta = base_meta(net, spec, classes)
    return net.build(meta, pretrained_classifier(spec)), meta


def load_index(spec):
    """The dataset index: dataset_convert's index.json when `dataset.index` is set, else built from the sources."""
    if spec.dataset.index:
        path = Path(spec.dataset.index)
        if not path.is_file():
            raise UserError(f"dataset.index {path} not found (write it with `dataset_convert`)")
        return json.loads(path.read_text())
    return build_index(spec.dataset, seed=spec.train.seed)


def make_dataset(samples, classes, meta, aug=None):
    transform = detection_transform(meta["image_width"], meta["image_height"], meta["mean"], meta["std"], aug)
    return DetectionDataset(samples, classes, transform)


def make_loader(samples, classes, meta, batch_size, num_workers):
    """An evaluation loader: every image once, in order."""
    return torch.utils.data.DataLoader(make_dataset(samples, classes, meta), batch_size=batch_size,
                                       num_workers=num_workers, collate_fn=collate, persistent_workers=num_workers > 0)


def predict(predictor, loader, decode):
    """(predictions, ground truth): per image dicts of numpy boxes/labels(/scores), in network-input pixels.
    `decode(outputs of one image) -> (boxes, scores, labels)`."""
    predictions, truth = [], []
    for images, targets in loader:
        outputs = predictor(images)
        for i, target in enumerate(targets):
            boxes, scores, labels = decode(tuple(o[i] for o in outputs))
            predictions.append({"boxes": boxes, "scores": scores, "labels": labels})
            truth.append({"boxes": target["boxes"].numpy(), "labels": target["labels"].numpy()})
    return predictions, truth


class _ModelPredictor:
    """The model being trained, as a predictor (validation)."""

    def __init__(self, model):
        self.model, self.device = model, next(model.parameters()).device

    @torch.no_grad()
    def __call__(self, images):
        return tuple(o.float().cpu().numpy() for o in self.model(images.to(self.device)))


def _ap_table(title, result, classes):
    table = Table(title=title)
    for column in ("class", "AP", "ground-truth boxes"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name in classes:
        v = result["per_class"][name]
        table.add_row(name, "—" if v["AP"] is None else f"{v['AP']:.4f}", str(v["num_gt"]))
    return table


# ---------------------------------------------------------------- subcommands

def dataset_convert(net, args):
    spec = load_spec(net.spec_class, args.dataset_spec, args.overrides)
    out = Path(args.output_dir)
    index = build_index(spec.dataset, seed=spec.train.seed)
    check_readable(index)
    converted = [s for split in SPLITS for s in getattr(spec.dataset, split) if s.format != "kitti"]
    if converted:  # the KITTI copy of VOC/COCO/YOLO sources (original class names), reusable by any KITTI tool
        samples = {}
        for source in converted:
            samples.update(load_source(source))
        image_dir, label_dir = write_kitti_dataset(samples, out / "kitti")
        console.print(f"KITTI labels of {len(samples)} converted images → {label_dir}")
    stats = box_statistics(index)
    write_json(out / "index.json", index)
    write_json(out / "statistics.json", stats)
    table = Table(title=f"dataset_convert: classes {', '.join(index['classes'])}")
    for column in ("split", "class", "boxes", "images", "width min/med/max", "height min/med/max"):
        table.add_column(column, justify="left" if column in ("split", "class") else "right")
    for split in SPLITS:
        table.add_row(split, f"({stats[split]['_images']['images']} images, {stats[split]['_images']['empty']} empty)",
                      "", "", "", "")
        for name, s in stats[split].items():
            if name != "_images":
                table.add_row("", name, str(s["boxes"]), str(s["images"]),
                              f"{s['width_min']}/{s['width_median']}/{s['width_max']}",
                              f"{s['height_min']}/{s['height_median']}/{s['height_max']}")
    console.print(table)
    console.print(f"index → {out / 'index.json'} (set dataset.index to it), statistics → {out / 'statistics.json'}")


def train(net, args):
    spec = load_spec(net.spec_class, args.experiment_spec, args.overrides)
    results_dir = Path(args.results_dir or spec.results_dir)
    if distributed.is_main():
        dump_spec(spec, results_dir / "experiment.yaml")
    status = StatusLogger(results_dir / "status.json")
    try:
        index = load_index(spec)
        classes = index["classes"]
        if not index["val"]:
            raise UserError("no validation images: add dataset.val sources or set dataset.validation_split")
        model, meta = initial_model(net, spec, classes)
        decode = net.decoder(spec, meta)
        loss_fn = net.loss(spec, meta)
        device = pick_device(spec.train.device)
        ds = spec.dataset
        train_loader = make_train_loader(make_dataset(index["train"], classes, meta, ds.augmentation),
                                         spec.train.batch_size, ds.num_workers, spec.train.seed, collate_fn=collate)
        val_loader = make_loader(index["val"], classes, meta, spec.evaluate.batch_size, ds.num_workers)

        def validate(model):
            model.eval()
            predictions, truth = predict(_ModelPredictor(model), val_loader, decode)
            return {"mAP": voc_map(predictions, truth, classes, spec.evaluate.iou_threshold, spec.evaluate.ap_mode)["mAP"]}

        console.print(f"{net.name}/{spec.model.backbone}: {len(classes)} classes, {len(index['train'])} train / "
                      f"{len(index['val'])} val images, {ds.image_width}x{ds.image_height}, device {device}")
        summary = fit(model, train_loader=train_loader, validate=validate, loss_fn=loss_fn, spec=spec.train,
                      results_dir=results_dir, meta=meta, monitor="mAP")
    except (UserError, KeyboardInterrupt) as exc:
        status.write("FAILURE", str(exc) or "interrupted")
        raise
    console.print(f"best val mAP {summary['best_mAP']:.4f} at epoch {summary['best_epoch']} → {summary['best_weights']}")


def _model_path(args, spec_value):
    path = args.model or spec_value
    if not path:
        raise UserError("no model given: pass -m MODEL (.pth or .onnx)")
    return path


def evaluate(net, args):
    spec = load_spec(net.spec_class, args.experiment_spec, args.overrides)
    predictor = load_predictor(_model_path(args, spec.evaluate.checkpoint), net.rebuild)
    meta = predictor.meta
    index = load_index(spec)
    samples = index[spec.evaluate.split]
    if not samples:
        raise UserError(f"evaluate.split '{spec.evaluate.split}' has no images (dataset.{spec.evaluate.split})")
    classes = meta["class_names"]
    loader = make_loader(samples, classes, meta, spec.evaluate.batch_size, spec.dataset.num_workers)
    predictions, truth = predict(predictor, loader, net.decoder(spec, meta))
    result = voc_map(predictions, truth, classes, spec.evaluate.iou_threshold, spec.evaluate.ap_mode)
    coco = coco_map(predictions, truth, classes)
    results_dir = Path(args.results_dir or Path(spec.results_dir) / "evaluate")
    metrics = {"model": str(args.model or spec.evaluate.checkpoint), "model_kind": meta["kind"],
               "split": spec.evaluate.split, "num_images": len(samples), "iou_threshold": spec.evaluate.iou_threshold,
               "ap_mode": spec.evaluate.ap_mode, "mAP": result["mAP"], **coco,
               "per_class": {name: {"AP": v["AP"], "num_gt": v["num_gt"]} for name, v in result["per_class"].items()}}
    write_json(results_dir / "evaluation.json", metrics)
    plot_pr_curves(results_dir / "pr_curves.png", result["per_class"])
    console.print(_ap_table(f"{meta['kind']} model on {spec.evaluate.split} ({len(samples)} images): "
                            f"mAP@{spec.evaluate.iou_threshold} ({spec.evaluate.ap_mode}) {result['mAP']:.4f}, "
                            f"COCO mAP@[.5:.95] {coco['mAP_50_95']:.4f}", result, classes))
    console.print(f"results → {results_dir}/evaluation.json, pr_curves.png")


def inference(net, args):
    spec = load_spec(net.spec_class, args.experiment_spec, args.overrides)
    predictor = load_predictor(_model_path(args, spec.inference.checkpoint), net.rebuild)
    meta = predictor.meta
    image_dir = args.image_dir or spec.inference.image_dir
    if not image_dir:
        raise UserError("no images given: pass -i IMAGE_DIR or set inference.image_dir")
    image_dir = require_folder(image_dir, "-i / inference.image_dir")
    images = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise UserError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {image_dir}")
    classes = meta["class_names"]
    loader = make_loader([{"image": str(p), "objects": []} for p in images], classes, meta,
                         spec.inference.batch_size, spec.dataset.num_workers)
    predictions, _ = predict(predictor, loader, net.decoder(spec, meta))
    results_dir = Path(args.results_dir or Path(spec.results_dir) / "inference")
    palette = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240)]
    for path, pred in zip(images, predictions):
        image = Image.open(path).convert("RGB")
        sx, sy = image.width / meta["image_width"], image.height / meta["image_height"]
        keep = pred["scores"] >= spec.inference.min_confidence
        boxes = np.clip(pred["boxes"][keep] * [sx, sy, sx, sy], 0, [image.width, image.height] * 2)
        objects = [KittiObject(classes[label], x1, y1, x2, y2, score=float(score))
                   for (x1, y1, x2, y2), label, score in zip(boxes, pred["labels"][keep], pred["scores"][keep])]
        write_kitti(results_dir / "labels" / f"{path.stem}.txt", objects)
        draw = ImageDraw.Draw(image)
        for obj, label in zip(objects, pred["labels"][keep]):
            colour = palette[int(label) % len(palette)]
            draw.rectangle(obj.box, outline=colour, width=2)
            draw.text((obj.x1 + 2, max(0, obj.y1 - 11)), f"{obj.name} {obj.score:.2f}", fill=colour)
        with atomic_path(results_dir / "images_annotated" / f"{path.stem}.jpg") as tmp:
            image.save(tmp, format="JPEG", quality=92)
    total = sum(int((p["scores"] >= spec.inference.min_confidence).sum()) for p in predictions)
    console.print(f"{total} boxes on {len(images)} images → {results_dir}/labels (KITTI), images_annotated/")


def prune(net, args):
    # The output heads stay whole: their channels are the classes and box coordinates (TAO excludes them too).
    prune_command(args, net.rebuild, input_hw=lambda meta: (meta["image_height"], meta["image_width"]),
                  schema=net.spec_class, heads=net.heads)


def contract(net, meta, data_type):
    """What a user needs to run the exported detector outside this tool, decoding included."""
    h, w = meta["image_height"], meta["image_width"]
    outputs, postprocessing = net.contract_outputs(meta)
    return {"task": net.name, "backbone": meta["backbone"], "class_names": meta["class_names"], "data_type": data_type,
            "num_classes": meta["num_classes"], "image_width": w, "image_height": h, "mean": list(meta["mean"]),
            "std": list(meta["std"]), **net.meta_for_contract(meta),
            "input": {"name": INPUT_NAME, "shape": ["batch", 3, h, w], "layout": "NCHW", "color": "RGB"},
            "outputs": outputs,
            "preprocessing": "resize to image_width x image_height, scale pixels to [0, 1], subtract mean, divide by std",
            "postprocessing": postprocessing}


def calibration_batches(image_dir, meta, batches, batch_size):
    paths = sorted(p for p in Path(image_dir).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise UserError(f"--cal_image_dir: no images ({', '.join(IMAGE_SUFFIXES)}) in {image_dir}")
    wanted = min(len(paths), batches * batch_size)
    chosen = [paths[i] for i in np.linspace(0, len(paths) - 1, wanted).round().astype(int)]
    loader = make_loader([{"image": str(p), "objects": []} for p in chosen], meta["class_names"], meta, batch_size, 0)
    return [images.numpy() for images, _ in loader]


def confidence_agreement(net, fp32_path, int8_path, batches, threshold):
    """IoU of the positions (cells or anchors, per class) where the FP32 and the INT8 model are confident."""
    import onnxruntime as ort

    sessions = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (fp32_path, int8_path)]
    both = either = 0
    for batch in batches:
        fp32, int8 = (net.confidence(s.run(None, {INPUT_NAME: batch})) > threshold for s in sessions)
        both += int((fp32 & int8).sum())
        either += int((fp32 | int8).sum())
    return both / either if either else 1.0


def export(net, args):
    spec = load_spec(net.spec_class, args.experiment_spec, args.overrides)
    payload = read_checkpoint(args.model)
    model = model_from_checkpoint(payload, net.rebuild).eval()
    meta = payload["meta"]
    output = Path(args.output)
    options = dict(input_hw=(meta["image_height"], meta["image_width"]), output_names=net.output_names,
                   opset=spec.export.opset, tolerance=spec.export.check_tolerance)
    if args.data_type == "fp32":
        diff = export_onnx(model, output, contract(net, meta, "fp32"), **options)
        console.print(f"ONNX (fp32, opset {spec.export.opset}) → {output}  (max |ORT - PyTorch| = {diff:.1e}); "
                      f"contract → {output}.json")
        return
    train_sources = spec.dataset.train
    cal_dir = args.cal_image_dir or (train_sources[0].image_dir if train_sources else None)
    if not cal_dir:
        raise UserError("--data_type int8 needs calibration images: pass --cal_image_dir DIR")
    require_folder(cal_dir, "--cal_image_dir")
    batches = calibration_batches(cal_dir, meta, args.batches or spec.export.cal_batches,
                                  args.batch_size or spec.export.cal_batch_size)
    fp32 = output.with_name(output.stem + "_fp32.onnx")
    diff = export_onnx(model, fp32, contract(net, meta, "fp32"), **options)
    export_spec, threshold = spec.export, net.confidence_threshold(spec)
    quantize = dict(method=export_spec.calibration_method, target=export_spec.int8_target, heads=2)
    fp32_ends = export_spec.int8_fp32_first_last == "always"
    quantize_qdq(fp32, output, batches, INPUT_NAME, fp32_ends=fp32_ends, **quantize)
    agreement = confidence_agreement(net, fp32, output, batches, threshold)
    if export_spec.int8_fp32_first_last == "auto" and agreement < export_spec.int8_min_agreement:
        console.print(f"INT8 with every layer quantized is confident where FP32 is on {agreement:.1%} (IoU) "
                      f"(< export.int8_min_agreement): re-quantizing with the first conv and the heads kept FP32")
        fp32_ends = True
        quantize_qdq(fp32, output, batches, INPUT_NAME, fp32_ends=True, **quantize)
        agreement = confidence_agreement(net, fp32, output, batches, threshold)
    attach_contract(output, contract(net, meta, "int8"))
    console.print(f"ONNX fp32 → {fp32} (max |ORT - PyTorch| = {diff:.1e}); INT8 Q/DQ → {output} "
                  f"({sum(len(b) for b in batches)} calibration images from {cal_dir}); confident-output IoU with FP32 "
                  f"{agreement:.1%}{' (first conv and heads kept FP32)' if fp32_ends else ''}")
    if args.cal_cache_file:
        amax = tensor_ranges(fp32, batches, INPUT_NAME, export_spec.calibration_method)
        write_trt_cache(args.cal_cache_file, amax)
        console.print(f"TensorRT calibration cache ({len(amax)} tensors) → {args.cal_cache_file}")


def generate(net, args):
    counts = [int(x) for x in args.count.split(",")]
    if len(counts) != 3 or min(counts) < 1:
        raise UserError(f"--count '{args.count}': expected three positive counts TRAIN,VAL,TEST (e.g. 80,20,20)")
    result = generate_detection_sample(args.output_dir, counts, args.image_size, seed=args.seed)
    console.print(f"synthetic detection sample data (KITTI) → {args.output_dir} ({result})")


# ---------------------------------------------------------------- command line

def build_parser(net):
    """The command line of one detection network: every subcommand runs with the network's adapter."""
    parser = argparse.ArgumentParser(prog=f"tao {net.name}", description=net.description)
    sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

    def bind(function):
        return lambda args: function(net, args)

    p = sub.add_parser("dataset_convert", help="validate data, report box statistics, write the training index")
    p.add_argument("-d", "--dataset_spec", required=True, help="spec YAML whose dataset section lists the sources")
    p.add_argument("-o", "--output_dir", required=True)
    p.add_argument("overrides", nargs="*", help="spec overrides: section.key=value")
    p.set_defaults(run=bind(dataset_convert))
    p = sub.add_parser("train", help="train from a spec")
    add_spec_arguments(p)
    distributed.add_arguments(p)
    p.set_defaults(run=bind(train))
    p = sub.add_parser("evaluate", help="mAP (VOC sample/integrate, COCO), per-class AP, PR curves")
    add_spec_arguments(p)
    p.add_argument("-m", "--model", help=".pth checkpoint or .onnx model")
    p.set_defaults(run=bind(evaluate))
    p = sub.add_parser("inference", help="annotated images and KITTI labels for a folder of images")
    add_spec_arguments(p)
    p.add_argument("-m", "--model", help=".pth checkpoint or .onnx model")
    p.add_argument("-i", "--image_dir", help="folder of images")
    p.set_defaults(run=bind(inference))
    add_prune_parser(sub, bind(prune))
    add_export_parser(sub, bind(export))
    p = sub.add_parser("generate_sample", help="write a small SYNTHETIC KITTI detection dataset for demos and tests")
    p.add_argument("-o", "--output_dir", required=True)
    p.add_argument("--count", default="240,40,40", help="images in train,val,test")
    p.add_argument("--image_size", type=int, default=160)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=bind(generate))
    return parser
