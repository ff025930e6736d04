"""DeepStream's nvinfer config and Triton's config.pbtxt, written from a model's contract and parsed back as their
readers parse them: nvinfer's key-file groups, Triton's protobuf text (our schema-free reader)."""

import configparser

import pytest

from tao_inference.contract import ModelInfo, make_contract
from tao_inference.deploy_configs import deepstream_config, triton_config, write_triton_repository
from tao_inference.spec import load_spec
from tao_inference.spec.schemas import DetectNetV2Spec
from tao_inference.spec.tao.prototext import parse_prototext

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def info(task, classes=("cat", "dog", "fox"), size=(96, 128)):
    return ModelInfo(task=task, backbone="resnet18", class_names=classes, input_height=size[0], input_width=size[1],
                     mean=IMAGENET[0], std=IMAGENET[1])


def nvinfer(text):
    parser = configparser.ConfigParser(comment_prefixes=("#",), strict=True)
    parser.read_string(text)
    return parser


def test_classifier_config_normalizes_as_the_model_and_is_a_classifier():
    model = info("classification")
    contract = make_contract(model, "fp32", [{"name": "logits", "shape": ["batch", 3]}])
    config = nvinfer(deepstream_config(model, contract, "m.onnx"))["property"]
    # DeepStream: y = net-scale-factor * (x - offsets) on 0-255 pixels; ours: (x / 255 - mean) / std
    scale, offsets = float(config["net-scale-factor"]), [float(v) for v in config["offsets"].split(";")]
    assert offsets == pytest.approx([255 * m for m in IMAGENET[0]], abs=1e-3)
    assert scale == pytest.approx(1 / (255 * sum(IMAGENET[1]) / 3))
    assert config["infer-dims"] == "3;96;128" and config["network-type"] == "1" and config["num-detected-classes"] == "3"
    assert config["output-blob-names"] == "logits" and config["onnx-file"] == "m.onnx" and config["network-mode"] == "0"
    assert config["model-color-format"] == "0"  # RGB


def test_detectnet_v2_config_carries_the_postprocessing_per_class(tmp_path):
    model = info("detectnet_v2")
    contract = make_contract(model, "int8", [{"name": "coverage", "shape": ["batch", 3, 6, 8]},
                                             {"name": "bbox", "shape": ["batch", 12, 6, 8]}])
    spec_file = tmp_path / "s.yaml"
    spec_file.write_text("postprocessing:\n  default: {coverage_threshold: 0.25, nms_iou: 0.4}\n"
                         "  per_class: {fox: {method: dbscan, eps: 0.3, min_samples: 2, minimum_height: 12}}\n")
    spec = load_spec(DetectNetV2Spec, spec_file)
    config = nvinfer(deepstream_config(model, contract, "m.onnx", spec, "int8", "cal.bin"))
    prop = config["property"]
    assert prop["network-type"] == "0" and prop["output-blob-names"] == "coverage;bbox" and prop["cluster-mode"] == "2"
    assert prop["network-mode"] == "1" and prop["int8-calib-file"] == "cal.bin"
    assert dict(config["class-attrs-all"]) == {"pre-cluster-threshold": "0.25", "nms-iou-threshold": "0.4"}
    assert dict(config["class-attrs-2"]) == {"pre-cluster-threshold": "0.25", "eps": "0.3", "minboxes": "2",
                                             "detected-min-h": "12"}
    assert "class-attrs-0" not in config  # cat and dog keep the defaults


def test_raw_output_detectors_attach_their_tensors():
    model = info("retinanet")
    contract = make_contract(model, "fp32", [{"name": "cls_logits", "shape": ["batch", "anchors", 3]},
                                             {"name": "bbox_regression", "shape": ["batch", "anchors", 4]}])
    prop = nvinfer(deepstream_config(model, contract, "m.onnx"))["property"]
    assert prop["network-type"] == "100" and prop["output-tensor-meta"] == "1"


def test_triton_repository_parses_back_as_model_config(tmp_path):
    model = info("classification")
    contract = make_contract(model, "fp32", [{"name": "logits", "shape": ["batch", 3]}])
    onnx = tmp_path / "net.onnx"
    onnx.write_bytes(b"not really onnx")
    folder = write_triton_repository(tmp_path / "repo", onnx, model, contract, max_batch_size=16)
    config, _ = parse_prototext((folder / "config.pbtxt").read_text(), "config.pbtxt")
    assert config["name"] == "net" and config["platform"] == "onnxruntime_onnx" and config["max_batch_size"] == 16
    assert config["input"] == [{"name": "input", "data_type": "TYPE_FP32", "format": "FORMAT_NCHW", "dims": [3, 96, 128]}]
    assert config["output"] == [{"name": "logits", "data_type": "TYPE_FP32", "dims": [3], "label_filename": "labels.txt"}]
    assert (folder / "1" / "model.onnx").read_bytes() == b"not really onnx"
    assert (folder / "labels.txt").read_text().splitlines() == ["cat", "dog", "fox"]
    detector = info("retinanet")
    raw = make_contract(detector, "fp32", [{"name": "cls_logits", "shape": ["batch", "anchors", 3]},
                                           {"name": "bbox_regression", "shape": ["batch", "anchors", 4]}])
    config, _ = parse_prototext(triton_config(detector, raw, "det", "tensorrt_plan", 8), "c")
    assert [o["dims"] for o in config["output"]] == [[-1, 3], [-1, 4]] and config["platform"] == "tensorrt_plan"
    assert "label_filename" not in config["output"][0]
