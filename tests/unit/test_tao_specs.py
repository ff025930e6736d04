"""TAO's own spec files: the protobuf-text reader (every syntax quirk, errors with file:line:column, fuzzed),
TAO 5 YAML (${...}, ???), the dialect and network told from the content, and each network's mapping."""

import dataclasses
import json
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tao_inference.errors import UserError
from tao_inference.spec import load_spec, tao
from tao_inference.spec.schemas import (ClassificationSpec, DetectNetV2Spec, FasterRCNNSpec, MaskRCNNSpec,
                                        RetinaNetSpec, SSDSpec, YOLOv4Spec)
from tao_inference.spec.tao.prototext import parse_prototext

FIXTURES = Path(__file__).parents[1] / "fixtures" / "tao_specs"

QUIRKS = """\
# a comment line
random_seed: -7   # a trailing comment, a negative number
dataset_config {
  data_sources: { image_directory_path: '/img' label_directory_path:"/lab" }
  data_sources { image_directory_path: "/img2" }, target_class_mapping { key: "Car"; value: "car" }
  target_class_mapping { key:'van',value:'car' }
}
model_config{arch:"resnet",num_layers:18;use_batch_norm:True all_projections:false freeze_bn: False load_graph: true}
training_config {
  learning_rate { soft_start_annealing_schedule { min_learning_rate: 1e-5 max_learning_rate: 5E-4 soft_start: 0. annealing: .7 } }
  regularizer { type: L1 weight: -3.0e-9 }
}
evaluation_config < average_precision_mode: INTEGRATE >
lists: [1, -2, 3.5e2]
empty {}
"""


def test_prototext_reads_every_quirk_with_the_line_of_each_key():
    tree, lines = parse_prototext(QUIRKS, "q.txt")
    assert tree["random_seed"] == -7
    sources = tree["dataset_config"]["data_sources"]  # repeated -> a list, in order
    assert sources == [{"image_directory_path": "/img", "label_directory_path": "/lab"}, {"image_directory_path": "/img2"}]
    assert tree["dataset_config"]["target_class_mapping"] == {"Car": "car", "van": "car"}  # map entries -> a dict
    model = tree["model_config"]
    assert model == {"arch": "resnet", "num_layers": 18, "use_batch_norm": True, "all_projections": False,
                     "freeze_bn": False, "load_graph": True}
    schedule = tree["training_config"]["learning_rate"]["soft_start_annealing_schedule"]
    assert schedule == {"min_learning_rate": 1e-5, "max_learning_rate": 5e-4, "soft_start": 0.0, "annealing": 0.7}
    assert tree["training_config"]["regularizer"] == {"type": "L1", "weight": -3e-9}  # a bare enum name stays a string
    assert tree["evaluation_config"] == {"average_precision_mode": "INTEGRATE"} and tree["lists"] == [1, -2, 350.0]
    assert tree["empty"] == {}
    assert lines["random_seed"] == 2 and lines["dataset_config.data_sources[1].image_directory_path"] == 5
    assert lines["dataset_config.target_class_mapping.van"] == 6 and lines["model_config.num_layers"] == 8


def test_prototext_bracketed_lists_of_messages_are_lists_even_of_one():
    tree, lines = parse_prototext('input [ { name: "a" dims: [ 3, 8 ] }, { name: "b" } ]\noutput [ { name: "c" } ]', "t")
    assert tree == {"input": [{"name": "a", "dims": [3, 8]}, {"name": "b"}], "output": [{"name": "c"}]}
    assert lines["output[0].name"] == 2


@pytest.mark.parametrize("text, where, message", [
    ("a {\n  b: 1\n", "f.txt:2:7", "the file ends inside a message: '}' is missing"),
    ("a: ", "f.txt:1:4", "'a' has no value"),
    ('a {\n  b: "open\n}', "f.txt:2:6", "the string value of 'b' is not closed"),
    ("a { b: 1 } }", "f.txt:1:12", "expected a field name, found '}'"),
    ("a: 1\nb\n", "f.txt:2:2", "expected ':' or '{' after 'b', found the end of the file"),
    ("a: 1.2.3", "f.txt:1:4", "not a number, string, true/false or enum name: '1.2.3'"),
    ("m { key: 'k' value: 1 }\nm { key: 'k' value: 2 }", "f.txt:2", "'m' has key 'k' twice (first on line 1)"),
    ("a: [1, 2", "f.txt:1:9", "expected ',' or ']' in the list of 'a', found the end of the file"),
])
def test_prototext_syntax_errors_name_file_line_and_column(text, where, message):
    with pytest.raises(UserError) as error:
        parse_prototext(text, "f.txt")
    assert str(error.value).startswith(where + ":") and message in str(error.value)


# ---------------------------------------------------------------- fuzz: generated documents, then garbled ones

NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(lambda n: n not in ("true", "false"))
SCALARS = st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 4)),
                    st.booleans(), st.text("abc xyz_-/.'\"", max_size=8), st.sampled_from(["DBSCAN", "INTEGRATE"]))
MESSAGES = st.recursive(st.dictionaries(NAMES, SCALARS, max_size=4),
                        lambda inner: st.dictionaries(NAMES, st.one_of(SCALARS, inner), max_size=4), max_leaves=12)


def _scalar_text(value, quote):
    if isinstance(value, bool):
        return {True: "true", False: "False"}[value]
    if isinstance(value, (int, float)):
        return repr(value)
    if value in ("DBSCAN", "INTEGRATE"):
        return value
    return quote + value.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


def _document(message, style, depth=0):
    parts = []
    for number, (name, value) in enumerate(message.items()):
        pick = style.draw(st.integers(0, 3))
        sep = ["\n", " ", ", ", "; "][pick]
        if isinstance(value, dict):
            colon = ": " if pick % 2 else " "
            parts.append(f"{name}{colon}{{{_document(value, style, depth + 1)}}}{sep}")
        else:
            colon = ":" if pick == 3 else ": "
            quote = '"' if pick % 2 else "'"
            parts.append(f"{name}{colon}{_scalar_text(value, quote)}{sep}")
        if pick == 0:
            parts.append("# note\n")
    return "".join(parts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=MESSAGES, style=st.data())
def test_generated_documents_read_back_as_written(message, style):
    text = _document(message, style)
    tree, _ = parse_prototext(text, "g.txt")
    expected = json.loads(json.dumps(message), parse_float=float)
    assert tree == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=MESSAGES, style=st.data(), cut=st.floats(0, 1), junk=st.sampled_from(["{", "}", ":", "[", '"', "@", "", "<"]))
def test_truncated_or_garbled_documents_fail_with_a_line_never_a_traceback(message, style, cut, junk):
    text = _document(message, style)
    at = int(len(text) * cut)
    garbled = text[:at] + junk + (text[at:] if junk else "")
    try:
        parse_prototext(garbled, "g.txt")
    except UserError as exc:
        assert re.match(r"g\.txt:\d+(:\d+)?: ", str(exc)), str(exc)


# ---------------------------------------------------------------- dialects and networks, from the content

@pytest.mark.parametrize("text, expected", [
    ("dataset:\n  root: data\n", "ours"),
    ("gen_trt_engine:\n  tensorrt: {data_type: fp16}\n", "ours"),  # TAO 5's section name is ours too
    ("model_config {\n  arch: 'resnet'\n}\n", "protobuf text"),
    ("random_seed: 42\ntraining_config: { num_epochs: 3 }\n", "protobuf text"),  # also valid YAML
    ("results_dir: /r\nencryption_key: k\nmodel: {backbone: {type: resnet_18}}\n", "TAO 5 YAML"),
    ("evaluate:\n  checkpoint: ???\n", "TAO 5 YAML"),
])
def test_the_dialect_is_told_from_the_content(text, expected):
    assert tao.dialect(text, "s") == expected


def _spec_file(tmp_path, text, name="spec.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_spec_of_a_network_not_implemented_yet_says_so(tmp_path):
    with pytest.raises(UserError, match=r"this is a TAO yolo_v3 spec; network yolo_v3 is not implemented yet"):
        load_spec(DetectNetV2Spec, FIXTURES / "yolo_v3_train.txt")


def test_a_tao_mask_rcnn_spec_says_why_it_is_not_read_and_what_to_write_instead(tmp_path):
    with pytest.raises(UserError, match=r"reading TAO mask_rcnn spec files is not implemented: .*TFRecords.*"
                                        r"specs/mask_rcnn/sample.yaml"):
        load_spec(MaskRCNNSpec, _spec_file(tmp_path, "maskrcnn_config { nlayers: 50 }"))


def test_a_spec_of_another_network_names_the_command_to_run_it(tmp_path):
    with pytest.raises(UserError, match=r"this is a TAO detectnet_v2 spec; run it with `tao detectnet_v2 \.\.\.`"):
        load_spec(ClassificationSpec, FIXTURES / "detectnet_v2_train.txt")


# ---------------------------------------------------------------- the mappings

@pytest.fixture
def mounted(tmp_path, monkeypatch):
    """/workspace/tao-experiments read as tmp_path, as the local runtime maps ~/.tao_mounts.json."""
    monkeypatch.setenv("TAO_CONTAINER_PATHS", json.dumps([["/workspace/tao-experiments", str(tmp_path)]]))
    monkeypatch.setenv("TAO_MOUNTS_FILE", str(tmp_path / "mounts.json"))
    return tmp_path


def test_detectnet_v2_spec_maps_to_ours(mounted):
    (mounted / "data" / "train" / "images").mkdir(parents=True)
    (mounted / "data" / "train" / "labels").mkdir()
    spec = load_spec(DetectNetV2Spec, FIXTURES / "detectnet_v2_train.txt")
    assert spec.train.seed == 42 and spec.train.batch_size == 4 and spec.train.num_epochs == 1
    assert (spec.train.optimizer.name, spec.train.optimizer.lr) == ("adam", 5e-4)
    schedule = spec.train.lr_scheduler
    assert (schedule.name, schedule.soft_start, schedule.annealing_start) == ("soft_anneal", 0.1, 0.7)
    assert schedule.min_lr_ratio == pytest.approx(0.01)
    # tfrecords -> the KITTI folders found in image_directory_path; container paths read through the mount
    assert spec.dataset.train[0].image_dir == str(mounted / "data/train/images")
    assert spec.dataset.train[0].label_dir == str(mounted / "data/train/labels")
    assert spec.dataset.val[0].image_dir == str(mounted / "data/val/image_2")  # not there: TAO's layout assumed
    assert spec.dataset.target_class_mapping == {"circle": "circle", "square": "square", "star": "star"}
    assert (spec.dataset.image_width, spec.dataset.image_height) == (64, 64)
    assert spec.dataset.augmentation.translate == pytest.approx(0.125)
    assert spec.dataset.augmentation.hue == pytest.approx(25 / 360, abs=1e-4)
    assert spec.model.backbone == "resnet18" and spec.model.bbox_norm == 35.0
    assert spec.model.coverage_scale == pytest.approx(0.7)  # 2 x the mean radius (0.4, 0.3)
    assert spec.postprocessing.per_class["circle"] == {"method": "dbscan", "coverage_threshold": 0.005, "eps": 0.2,
                                                       "minimum_height": 4.0, "min_samples": 1}
    assert spec.postprocessing.per_class["square"] == {"method": "nms", "coverage_threshold": 0.3, "nms_iou": 0.5}
    assert spec.evaluate.iou_threshold == 0.5 and spec.evaluate.ap_mode == "integrate"
    assert spec.train.tensorboard is True and spec.train.tensorboard_images == 2  # TAO's visualizer


def test_detectnet_v2_mapping_reports_what_it_ignored_and_why():
    translation = tao.translate((FIXTURES / "detectnet_v2_train.txt").read_text(), "d.txt", "detectnet_v2")
    ignored = dict(translation.ignored)
    assert "Keras/TLT" in ignored["model_config.pretrained_model_file"]
    assert "L1 regularization is not implemented" in ignored["training_config.regularizer.type"]
    assert "loss scaling" in ignored["training_config.cost_scaling"]
    assert "every epoch" in ignored["training_config.visualizer.scalar_logging_frequency"]
    assert translation.where("training_config.visualizer.num_images") == "d.txt:120"
    assert translation.unsupported == []
    assert translation.where("training_config.batch_size_per_gpu") == "d.txt:104"
    assert any("TFRecords are not read" in note for note in translation.notes)


def test_classification_tf1_spec_maps_to_ours(mounted):
    spec = load_spec(ClassificationSpec, FIXTURES / "classification_spec.cfg")
    assert spec.model.backbone == "resnet18" and spec.dataset.image_size == 32
    assert spec.dataset.train_dir == str(mounted / "data/train") and spec.dataset.test_dir == str(mounted / "data/test")
    assert (spec.train.batch_size, spec.train.num_epochs, spec.dataset.num_workers) == (16, 1, 0)
    assert (spec.train.optimizer.name, spec.train.optimizer.lr, spec.train.optimizer.weight_decay) == ("sgd", 0.05, 5e-5)
    assert spec.train.lr_scheduler.name == "cosine" and spec.train.lr_scheduler.min_lr_ratio == 0.01
    assert spec.evaluate.top_k == 3 and spec.evaluate.checkpoint == str(mounted / "results/weights/best.pth")


def test_classification_pyt_yaml_resolves_interpolations_and_required_values(mounted, tmp_path):
    spec = load_spec(ClassificationSpec, FIXTURES / "classification_pyt.yaml")
    assert spec.dataset.test_dir == str(mounted / "data/val/../test")  # ${dataset.data.val.data_prefix}/../test
    assert spec.results_dir == str(mounted / "results/train")  # train.results_dir: ${results_dir}/train
    assert spec.model.backbone == "resnet18" and spec.train.label_smoothing == 0.1 and spec.evaluate.top_k == 3
    assert (spec.train.optimizer.name, spec.train.optimizer.lr, spec.train.seed) == ("adamw", 1e-3, 7)
    assert spec.train.lr_scheduler.min_lr_ratio == pytest.approx(0.01)
    assert spec.dataset.augmentation.random_resized_crop_scale == [0.7, 1.0] and spec.dataset.image_size == 32
    assert spec.evaluate.checkpoint is None and spec.inference.checkpoint is None  # ??? outside the core: unset
    engine = spec.gen_trt_engine  # TAO 5's gen_trt_engine section, for `tao deploy classification gen_trt_engine`
    assert engine.onnx_file == str(mounted / "results/model.onnx") and engine.trt_engine == str(mounted / "results/model.engine")
    assert (engine.tensorrt.data_type, engine.tensorrt.workspace_size, engine.tensorrt.opt_batch_size) == ("fp16", 2048, 4)
    assert engine.tensorrt.calibration.cal_image_dir == [str(mounted / "data/train/circle")]
    assert engine.tensorrt.calibration.cal_cache_file == str(mounted / "results/cal.bin")
    # a value given on the command line reaches the ${...} that refer to it, as in Hydra
    spec = load_spec(ClassificationSpec, FIXTURES / "classification_pyt.yaml",
                     ["evaluate.checkpoint=/workspace/tao-experiments/m.pth", "dataset.data.samples_per_gpu=5",
                      "train.num_epochs=3"])
    assert spec.evaluate.checkpoint == spec.inference.checkpoint == str(mounted / "m.pth")
    assert spec.train.batch_size == 5 and spec.train.num_epochs == 3
    # ??? where every subcommand reads: an error naming the key and its line, unless given on the command line
    text = (FIXTURES / "classification_pyt.yaml").read_text().replace(
        "data_prefix: /workspace/tao-experiments/data/train", "data_prefix: ???")
    path = _spec_file(tmp_path, text, "required.yaml")
    with pytest.raises(UserError, match=r"required.yaml:\d+: 'dataset.data.train.data_prefix' is required by this "
                                        r"TAO spec \(\?\?\?\): give it a value .*dataset.data.train.data_prefix=VALUE"):
        load_spec(ClassificationSpec, path)
    spec = load_spec(ClassificationSpec, path, ["dataset.data.train.data_prefix=/workspace/tao-experiments/t"])
    assert spec.dataset.train_dir == str(mounted / "t")
    bad = _spec_file(tmp_path, text.replace("${dataset.data.val.data_prefix}", "${dataset.nothing}"), "ref.yaml")
    with pytest.raises(UserError, match=r"ref.yaml:\d+: 'dataset.data.test.data_prefix': .*dataset.nothing"):
        load_spec(ClassificationSpec, bad, ["dataset.data.train.data_prefix=/x"])


def test_retinanet_spec_maps_to_ours(mounted):
    spec = load_spec(RetinaNetSpec, FIXTURES / "retinanet_train.txt")
    assert spec.model.backbone == "resnet18" and spec.model.fpn_channels == 64
    assert spec.model.anchor_sizes == [17, 35, 77, 154, 211]  # scales x 384, P3..P7
    assert (spec.postprocessing.score_threshold, spec.postprocessing.nms_iou, spec.postprocessing.max_detections) == \
        (0.01, 0.6, 200)
    assert spec.evaluate.ap_mode == "sample" and spec.dataset.val[0].label_dir == str(mounted / "data/val/label")
    assert spec.dataset.augmentation.hue == pytest.approx(0.05) and spec.dataset.augmentation.saturation == 0.5
    assert (spec.train.optimizer.name, spec.train.optimizer.lr, spec.train.optimizer.weight_decay) == ("sgd", 0.015, 2e-5)
    assert spec.train.enable_qat is False
    qat = mounted / "retinanet_qat.txt"  # TAO's QAT switch turns on ours
    qat.write_text((FIXTURES / "retinanet_train.txt").read_text().replace("enable_qat: False", "enable_qat: True"))
    assert load_spec(RetinaNetSpec, qat).train.enable_qat is True


def test_yolo_v4_spec_maps_to_ours(mounted):
    from tao_inference.spec.schemas import YOLOv4Spec

    spec = load_spec(YOLOv4Spec, FIXTURES / "yolo_v4_train.txt")
    m = spec.model
    assert m.backbone == "resnet18" and m.big_anchor_shape == [[114.94, 60.67], [159.06, 114.59], [297.59, 176.38]]
    assert m.small_anchor_shape[2] == [20.67, 49.63] and m.grid_xy_extend == [0.2, 0.1, 0.05]
    assert (m.box_matching_iou, m.ignore_iou, spec.train.label_smoothing) == (0.25, 0.5, 0.1)
    assert (spec.dataset.image_width, spec.dataset.image_height) == (1248, 384)
    aug = spec.dataset.augmentation
    assert (aug.hue, aug.saturation, aug.brightness, aug.scale_jitter, aug.mosaic_prob) == (0.1, 0.5, 0.5, 0.3, 0.5)
    assert (spec.train.lr_scheduler.name, spec.train.optimizer.lr, spec.train.lr_scheduler.warmup_epochs) == \
        ("cosine", 1e-4, 24)  # soft start 0.3 of 80 epochs
    assert spec.train.lr_scheduler.min_lr_ratio == pytest.approx(1e-3) and spec.train.optimizer.weight_decay == 3e-5
    assert (spec.postprocessing.confidence_threshold, spec.postprocessing.top_k) == (0.001, 200)
    assert spec.dataset.train[0].label_dir == str(mounted / "data/training/label_2")  # tfrecords -> KITTI folders
    assert spec.dataset.target_class_mapping == {"car": "car", "pedestrian": "pedestrian"}
    bad = (FIXTURES / "yolo_v4_train.txt").read_text().replace("randomize_input_shape_period: 0",
                                                                "randomize_input_shape_period: 10")
    with pytest.raises(UserError, match=r"augmentation_config.randomize_input_shape_period — 10: multi-scale training "
                                        r"is not implemented"):
        load_spec(YOLOv4Spec, _spec_file(mounted, bad, "y.txt"))


def test_ssd_spec_maps_to_ours(mounted):
    from tao_inference.spec.schemas import SSDSpec

    spec = load_spec(SSDSpec, FIXTURES / "ssd_train.txt")
    m = spec.model
    assert m.backbone == "resnet18" and m.scales == [0.05, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85]
    assert m.aspect_ratios_global == [1.0, 2.0, 0.5, 3.0, 0.333333] and m.variances == [0.1, 0.1, 0.2, 0.2]
    assert (m.two_boxes_for_ar1, m.clip_boxes) == (True, False)
    assert (spec.postprocessing.confidence_threshold, spec.postprocessing.clustering_iou_threshold) == (0.01, 0.6)
    assert (spec.dataset.image_width, spec.train.lr_scheduler.name, spec.train.optimizer.lr) == (300, "soft_anneal", 0.02)
    bad = (FIXTURES / "ssd_train.txt").read_text().replace("clip_boxes: false", "clip_boxes: false\n  steps: \"[8, 16]\"")
    with pytest.raises(UserError, match=r"ssd_config.steps — .*default boxes are centred on their feature-map cells"):
        load_spec(SSDSpec, _spec_file(mounted, bad, "s.txt"))


def test_faster_rcnn_spec_maps_to_ours(mounted):
    from tao_inference.spec.schemas import FasterRCNNSpec

    spec = load_spec(FasterRCNNSpec, FIXTURES / "faster_rcnn_train.txt")
    m = spec.model
    assert m.backbone == "resnet18" and m.anchor_sizes == [64, 91, 128, 181, 256]  # 3 scales over P2..P6
    assert m.aspect_ratios == [1.0, 0.5, 2.0] and m.freeze_bn is True and m.num_sampled_rois == 256
    assert (m.rpn_negative_overlap, m.rpn_positive_overlap, m.fg_thresh, m.bg_thresh_hi) == (0.3, 0.7, 0.5, 0.5)
    assert (m.rpn_pre_nms_topn, m.rpn_post_nms_topn, m.test_rpn_pre_nms_topn, m.test_rpn_post_nms_topn) == \
        (12000, 2000, 6000, 300)
    assert (m.test_score_threshold, m.test_detections_per_image, m.test_nms) == (0.0001, 100, 0.3)
    assert (spec.dataset.image_width, spec.dataset.image_height) == (1248, 384)
    assert spec.dataset.target_class_mapping == {"car": "car", "van": "car"}
    sched = spec.train.lr_scheduler
    assert (sched.name, sched.milestones, sched.gamma, sched.warmup_epochs) == ("multistep", [0.8, 0.9], 0.1, 2)
    assert (spec.train.optimizer.name, spec.train.optimizer.lr, spec.train.optimizer.weight_decay) == ("sgd", 0.02, 1e-4)
    assert spec.inference.min_confidence == 0.6 and spec.evaluate.ap_mode == "integrate"
    bad = (FIXTURES / "faster_rcnn_train.txt").read_text().replace("value: 5.0", "value: 2.0", 1)
    with pytest.raises(UserError, match=r"training_config.classifier_regr_std — .*the RoI box coder weights are "
                                        r"torchvision's"):
        load_spec(FasterRCNNSpec, _spec_file(mounted, bad, "f.txt"))


def test_dataset_convert_spec_kitti_config(mounted):
    spec = load_spec(DetectNetV2Spec, FIXTURES / "detectnet_v2_tfrecords_kitti.txt")
    assert spec.dataset.train[0].image_dir == str(mounted / "data/train/images")
    assert spec.dataset.validation_split == 0.2


def test_unsupported_keys_are_errors_naming_key_and_line_unless_allowed(tmp_path, monkeypatch):
    text = (FIXTURES / "classification_spec.cfg").read_text().replace("mixup_alpha: 0.0", "mixup_alpha: 0.2\n  magic_knob: 3")
    path = _spec_file(tmp_path, text, "c.cfg")
    with pytest.raises(UserError) as error:
        load_spec(ClassificationSpec, path, ["dataset.train_dir=/x"])
    message = str(error.value)
    assert "2 TAO key(s) of this classification spec have no equivalent here" in message
    assert re.search(r"c\.cfg:\d+: train_config\.mixup_alpha — 0\.2: mixup is not implemented", message)
    assert re.search(r"c\.cfg:\d+: train_config\.magic_knob — no mapping for this TAO key", message)
    assert "--allow_unmapped" in message
    monkeypatch.setenv("TAO_ALLOW_UNMAPPED", "1")
    assert load_spec(ClassificationSpec, path, ["dataset.train_dir=/x"]).train.batch_size == 16


def test_a_bad_value_names_the_tao_key_and_its_line(tmp_path):
    text = (FIXTURES / "classification_spec.cfg").read_text().replace("batch_size_per_gpu: 16", "batch_size_per_gpu: 0")
    with pytest.raises(UserError, match=r"c.cfg:\d+: \(TAO key 'train_config.batch_size_per_gpu'\) 'train.batch_size' "
                                        r"is 0; expected a value >= 1"):
        load_spec(ClassificationSpec, _spec_file(tmp_path, text, "c.cfg"))
    text = text.replace("n_epochs: 1", 'n_epochs: "many"')
    with pytest.raises(UserError, match=r"c.cfg:\d+: 'train_config.n_epochs' is 'many', which does not fit our "
                                        r"'train.num_epochs'"):
        load_spec(ClassificationSpec, _spec_file(tmp_path, text, "c.cfg"))


def test_tao_and_our_overrides_both_apply():
    spec = load_spec(DetectNetV2Spec, FIXTURES / "detectnet_v2_train.txt",
                     ["training_config.batch_size_per_gpu=2", "train.num_epochs=5", "model.backbone=resnet34"])
    assert (spec.train.batch_size, spec.train.num_epochs, spec.model.backbone) == (2, 5, "resnet34")


def test_a_container_path_under_no_mount_is_an_error_naming_key_and_mounts_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TAO_CONTAINER_PATHS", json.dumps([["/data", str(tmp_path)]]))
    monkeypatch.setenv("TAO_MOUNTS_FILE", "/home/me/.tao_mounts.json")
    with pytest.raises(UserError, match=r"\(TAO key 'train_config.train_dataset_path'\) 'dataset.train_dir' is "
                                        r"/workspace/tao-experiments/data/train: no mount of /home/me/.tao_mounts.json"):
        load_spec(ClassificationSpec, FIXTURES / "classification_spec.cfg")


def test_convert_then_read_equals_the_direct_reading(tmp_path):
    from tao_cv.tasks.spec_tool import converted_yaml

    for name, schema, task in (("detectnet_v2_train.txt", DetectNetV2Spec, "detectnet_v2"),
                               ("classification_spec.cfg", ClassificationSpec, "classification"),
                               ("classification_pyt.yaml", ClassificationSpec, "classification"),
                               ("retinanet_train.txt", RetinaNetSpec, "retinanet"),
                               ("yolo_v4_train.txt", YOLOv4Spec, "yolo_v4"), ("ssd_train.txt", SSDSpec, "ssd"),
                               ("faster_rcnn_train.txt", FasterRCNNSpec, "faster_rcnn")):
        translation = tao.translate((FIXTURES / name).read_text(), str(FIXTURES / name), task)
        ours = tmp_path / f"{name}.yaml"
        ours.write_text(converted_yaml(translation))
        assert tao.dialect(ours.read_text(), str(ours)) == "ours"
        assert "# TAO: " in ours.read_text() and yaml.safe_load(ours.read_text())
        assert dataclasses.asdict(load_spec(schema, ours)) == dataclasses.asdict(load_spec(schema, FIXTURES / name))


def test_unet_spec_maps_to_ours(mounted):
    from tao_inference.spec.schemas import UNetSpec

    spec = load_spec(UNetSpec, FIXTURES / "unet_isbi.txt")
    assert spec.model.backbone == "resnet18" and spec.model.loss == "cross_entropy_dice"
    assert (spec.dataset.image_width, spec.dataset.image_height, spec.dataset.input_image_type) == (320, 320, "grayscale")
    assert spec.dataset.train_masks_path == str(mounted / "data/isbi/masks/train") and spec.dataset.test_masks_path is None
    assert [(t.name, t.label_id, t.mapping_class) for t in spec.dataset.data_class_config.target_classes] == \
        [("foreground", 0, "foreground"), ("background", 1, "background")]
    assert (spec.train.batch_size, spec.train.num_epochs, spec.train.optimizer.name, spec.train.optimizer.lr) == \
        (3, 50, "adam", 1e-4)
    assert spec.train.lr_scheduler.name == "constant" and spec.train.optimizer.weight_decay == 2e-5
    assert spec.dataset.augmentation.vertical_flip == 0.5 and spec.dataset.augmentation.crop_and_resize_prob == 0.5
    assert spec.dataset.augmentation.brightness == 0.2


def test_unet_list_file_sources_map_to_ours(mounted, tmp_path):
    from tao_inference.spec.schemas import UNetSpec

    text = (FIXTURES / "unet_isbi.txt").read_text().replace('  dataset: "custom"', """  dataset: "custom"
  train_data_sources: {
    data_source: { image_path: "/workspace/tao-experiments/lists/train_images.txt"
                   masks_path: "/workspace/tao-experiments/lists/train_masks.txt" }
  }""")
    spec = load_spec(UNetSpec, _spec_file(tmp_path, text))
    assert [(s.image_path, s.masks_path) for s in spec.dataset.train_data_sources] == \
        [(str(mounted / "lists/train_images.txt"), str(mounted / "lists/train_masks.txt"))]
