"""What DeepStream and Triton need beside an exported model, written from its contract (no framework needed):

- DeepStream's Gst-nvinfer config (`nvinfer_config.txt`, key=value under [property] and [class-attrs-*]) and
  `labels.txt` — `export --gen_ds_config`;
- a Triton model repository (`DIR/<name>/config.pbtxt`, `DIR/<name>/1/model.onnx | model.plan`) —
  `export --gen_triton_repo DIR`.
"""

import dataclasses
import shutil
from pathlib import Path

from .fileio import atomic_path, make_dirs, write_text

# Gst-nvinfer's network-type and cluster-mode values (DeepStream's documented enums)
NETWORK_TYPE = {"classification": 1, "detectnet_v2": 0, "unet": 2, "mask_rcnn": 3}  # others: 100 (raw tensors)
CLUSTER_MODE = {"dbscan": 1, "nms": 2}
NETWORK_MODE = {"fp32": 0, "int8": 1, "fp16": 2}


def labels_text(info):
    """One label a line (Triton's label_filename; DeepStream detectors)."""
    return "".join(f"{name}\n" for name in info.class_names)


def deepstream_labels(info):
    """DeepStream reads a classifier's labels as one line per output layer, separated by semicolons."""
    return ";".join(info.class_names) + "\n" if info.task == "classification" else labels_text(info)


def deepstream_config(info, contract, model_file, spec=None, data_type="fp32", cal_file=None):
    """Gst-nvinfer's config for the exported model. DeepStream normalizes with one scale for all channels,
    y = net-scale-factor * (x - offsets) on 0-255 pixels: offsets = 255 x mean, scale = 1 / (255 x std) with the
    channels' mean std (the difference is stated in the file when the stds differ)."""
    std = sum(info.std) / len(info.std)
    network_type = NETWORK_TYPE.get(info.task, 100)
    lines = ["# DeepStream Gst-nvinfer config written by `tao model ... export --gen_ds_config`",
             f"# model: {info.task} ({info.backbone}), input {info.input_width}x{info.input_height} RGB"]
    if max(info.std) - min(info.std) > 1e-6:
        lines.append(f"# per-channel std {list(info.std)} -> one net-scale-factor from their mean ({std:.4f}): "
                     "DeepStream has one scale for all channels")
    lines += ["[property]", "gpu-id=0",
              f"net-scale-factor={1 / (255 * std):.10g}",
              "offsets=" + ";".join(f"{255 * m:.4f}" for m in info.mean),
              f"infer-dims=3;{info.input_height};{info.input_width}",
              "model-color-format=0",
              f"onnx-file={model_file}",
              f"labelfile-path=labels.txt",
              f"network-mode={NETWORK_MODE.get(data_type, 0)}",
              "batch-size=1",
              "maintain-aspect-ratio=0",
              f"network-type={network_type}",
              f"num-detected-classes={info.num_classes}",
              "output-blob-names=" + ";".join(o["name"] for o in contract.get("outputs", [])),
              "gie-unique-id=1"]
    if cal_file:
        lines.append(f"int8-calib-file={cal_file}")
    if network_type == 1:
        lines += ["classifier-threshold=0.0", "process-mode=1"]
    elif network_type == 2:
        lines += ["segmentation-threshold=0.0", "segmentation-output-order=1"]
    elif network_type == 3:
        lines += ["# instance masks: a parser of this model's outputs (boxes, scores, labels, masks: the contract) "
                  "names its function and library here", "output-instance-mask=1",
                  "parse-bbox-instance-mask-func-name=<your parser of the contract's outputs>",
                  "custom-lib-path=<its library>", "cluster-mode=4"]
    elif network_type == 100:
        lines += ["# raw outputs: attach them as tensor meta and decode them as the model's contract says "
                  "(tao_inference's decoder, or a custom parser)", "output-tensor-meta=1"]
    if network_type == 0 and spec is not None:
        lines += _detectnet_class_attributes(info, spec)
    return "\n".join(lines) + "\n"


def _detectnet_class_attributes(info, spec):
    """Our DetectNet_v2 postprocessing as nvinfer's clustering: [class-attrs-all] and one section per class that
    `postprocessing.per_class` changes."""
    from .networks.detectnet_v2 import clustering_per_class

    per_class = clustering_per_class(spec, info.class_names)
    default = dataclasses.asdict(spec.postprocessing.default)
    mode = CLUSTER_MODE[default["method"]]
    lines = [f"cluster-mode={mode}", "", "[class-attrs-all]"] + _cluster_keys(default)
    for class_id, params in enumerate(per_class):
        if params != default:
            lines += ["", f"[class-attrs-{class_id}]", f"# {info.class_names[class_id]}"] + _cluster_keys(params)
    return lines


def _cluster_keys(params):
    keys = [f"pre-cluster-threshold={params['coverage_threshold']:g}"]
    if params["method"] == "nms":
        keys.append(f"nms-iou-threshold={params['nms_iou']:g}")
    else:
        keys += [f"eps={params['eps']:g}", f"minBoxes={params['min_samples']}"]
    if params["minimum_height"]:
        keys.append(f"detected-min-h={int(params['minimum_height'])}")
    return keys


def write_deepstream_config(folder, info, contract, model_file, spec=None, data_type="fp32", cal_file=None):
    folder = Path(folder)
    make_dirs(folder)
    write_text(folder / "nvinfer_config.txt", deepstream_config(info, contract, model_file, spec, data_type, cal_file))
    write_text(folder / "labels.txt", deepstream_labels(info))
    return folder / "nvinfer_config.txt"


def _dims(shape):
    """The output's dims without the batch; a size known only at run time is -1 (Triton's variable dim)."""
    return [d if isinstance(d, int) else -1 for d in shape[1:]]


def triton_config(info, contract, name, platform, max_batch_size):
    """config.pbtxt (protobuf text, Triton's ModelConfig) for the model."""
    lines = [f'name: "{name}"', f'platform: "{platform}"', f"max_batch_size: {max_batch_size}", "input ["]
    lines += ["  {", f'    name: "{contract["input"]["name"]}"', "    data_type: TYPE_FP32", "    format: FORMAT_NCHW",
              f"    dims: [ 3, {info.input_height}, {info.input_width} ]", "  }", "]", "output ["]
    outputs = contract.get("outputs", [])
    for number, output in enumerate(outputs):
        lines += ["  {", f'    name: "{output["name"]}"', "    data_type: TYPE_FP32",
                  f"    dims: [ {', '.join(map(str, _dims(output['shape'])))} ]"]
        if info.task == "classification":
            lines.append('    label_filename: "labels.txt"')
        lines.append("  }" + ("," if number < len(outputs) - 1 else ""))
    lines.append("]")
    return "\n".join(lines) + "\n"


def write_triton_repository(repository, model_path, info, contract, name=None, max_batch_size=8):
    """DIR/<name>/config.pbtxt, DIR/<name>/1/model.onnx (or model.plan for a TensorRT engine), labels.txt."""
    model_path = Path(model_path)
    name = name or model_path.stem
    engine = model_path.suffix in (".engine", ".plan")
    folder = Path(repository) / name
    make_dirs(folder / "1")
    target = folder / "1" / ("model.plan" if engine else "model.onnx")
    with atomic_path(target) as tmp:
        shutil.copyfile(model_path, tmp)
    platform = "tensorrt_plan" if engine else "onnxruntime_onnx"
    write_text(folder / "config.pbtxt", triton_config(info, contract, name, platform, max_batch_size))
    write_text(folder / "labels.txt", labels_text(info))
    return folder
