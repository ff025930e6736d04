import pytest

from tao_inference.errors import UserError
from tao_inference.spec import load_spec
from tao_inference.spec.schemas import ClassificationSpec


def write(tmp_path, text):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def error_of(*args, **kwargs):
    with pytest.raises(UserError) as info:
        load_spec(ClassificationSpec, *args, **kwargs)
    return str(info.value)


def test_defaults_fill_every_section(tmp_path):
    spec = load_spec(ClassificationSpec, write(tmp_path, "train:\n  num_epochs: 3\n"))
    assert spec.train.num_epochs == 3
    assert spec.train.optimizer.name == "sgd" and spec.prune.granularity == 8
    assert spec.dataset.augmentation.horizontal_flip == 0.5


def test_unknown_key_names_file_line_section_and_nearest_key(tmp_path):
    path = write(tmp_path, "dataset:\n  image_size: 64\ntrain:\n  num_epoch: 5\n")
    message = error_of(path)
    assert f"{path}:4:" in message
    assert "'train.num_epoch'" in message and "section 'train'" in message
    assert "did you mean 'train.num_epochs'" in message


def test_unknown_section_lists_nearest(tmp_path):
    assert "did you mean 'dataset'" in error_of(write(tmp_path, "datasets:\n  root: x\n"))


def test_wrong_type_names_key_value_and_expectation(tmp_path):
    message = error_of(write(tmp_path, "train:\n  batch_size: many\n"))
    assert "spec.yaml:2:" in message and "'train.batch_size' is 'many'; expected an integer" in message


def test_out_of_range_and_choices(tmp_path):
    assert "expected a value >= 1" in error_of(write(tmp_path, "train:\n  batch_size: 0\n"))
    assert "expected a value between 1 and 100000" in error_of(write(tmp_path, "train:\n  num_epochs: 0\n"))
    assert "expected one of: sgd, adam, adamw" in error_of(write(tmp_path, "train:\n  optimizer:\n    name: rmsprop\n"))
    assert "between 0.0 and 1.0" in error_of(None, ["train.label_smoothing=2"])


def test_dotted_overrides_are_typed_and_checked():
    spec = load_spec(ClassificationSpec, None, ["train.optimizer.lr=1e-3", "dataset.mean=[0.5,0.5,0.5]",
                                                "model.pretrained=null", "train.amp=false"])
    assert spec.train.optimizer.lr == pytest.approx(1e-3)
    assert spec.dataset.mean == [0.5, 0.5, 0.5] and spec.model.pretrained is None and spec.train.amp is False
    message = error_of(None, ["train.num_epoch=5"])
    assert message.startswith("command line:") and "did you mean 'train.num_epochs'" in message
    assert "not an override" in error_of(None, ["train.num_epochs"])


def test_missing_spec_file_and_bad_yaml(tmp_path):
    assert "does not exist" in error_of(tmp_path / "nope.yaml")
    assert "not valid YAML" in error_of(write(tmp_path, "train: [unclosed\n"))


def test_every_sample_spec_loads_with_its_task_schema():
    from conftest import ROOT
    from tao_inference.spec.schemas import (AugmentSpec, ClassificationSpec, DetectNetV2Spec, FasterRCNNSpec,
                                            MaskRCNNSpec, RetinaNetSpec, SSDSpec, UNetSpec, YOLOv4Spec)

    schemas = {"classification": ClassificationSpec, "detectnet_v2": DetectNetV2Spec, "retinanet": RetinaNetSpec,
               "augment": AugmentSpec, "unet": UNetSpec, "mask_rcnn": MaskRCNNSpec,
               "faster_rcnn": FasterRCNNSpec, "ssd": SSDSpec, "yolo_v4": YOLOv4Spec, "yolo_v4_tiny": YOLOv4Spec}
    from tao_launcher.pipeline import load_pipeline

    specs = sorted((ROOT / "specs").glob("*/*.yaml"))
    assert {p.parent.name for p in specs} == set(schemas) | {"pipeline"}
    for path in specs:
        if path.parent.name == "pipeline":  # a pipeline names a task and its spec, which loads with the task's schema
            config = load_pipeline(path, [])
            load_spec(schemas[config["task"]], config["spec"])
        else:
            load_spec(schemas[path.parent.name], path)
