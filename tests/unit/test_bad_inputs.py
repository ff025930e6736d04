"""Regression tests for bad inputs found by hand (issue 17): each is a user error naming the file, line or key and
the fix — never a traceback, never a silent exit 0."""

import math
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from conftest import run_tao
from tao_inference.data.converters import read_yolo
from tao_inference.data.detection_index import build_index
from tao_inference.data.image_lists import read_split_list, scan_split_folder
from tao_inference.data.kitti import read_kitti
from tao_inference.errors import UserError
from tao_inference.spec import load_spec
from tao_inference.spec.schemas import (ClassificationSpec, DataSourceSpec, DetectionDatasetSpec, DetectNetV2Spec,
                                        RetinaNetSpec)


def spec_file(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("text,message", [
    (b"train:\n  num_epochs: 3\n  seed: \xff\n", r"spec.yaml:3: not UTF-8 text \(byte 31"),
    ("train:\n  optimizer: {lr: .nan}\n", r"spec.yaml:2: 'train.optimizer.lr' is nan; expected a finite number"),
    ("train:\n  optimizer: {lr: .inf}\n", r"'train.optimizer.lr' is inf; expected a finite number"),
    ("train:\n  num_epochs: 3\n  num_epochs: 5\n", r"spec.yaml:3: key 'train.num_epochs' is given twice \(first on line 2\)"),
])
def test_spec_files(tmp_path, text, message):
    with pytest.raises(UserError, match=message):
        load_spec(ClassificationSpec, spec_file(tmp_path, text))


def test_a_folder_or_a_device_given_as_a_spec(tmp_path):
    with pytest.raises(UserError, match=f"-e: {tmp_path} is a directory, not a file"):
        load_spec(ClassificationSpec, tmp_path)
    with pytest.raises(UserError, match="-e: /dev/null is not a regular file"):
        load_spec(ClassificationSpec, "/dev/null")


def test_label_and_list_files(tmp_path):
    label = spec_file(tmp_path, b"car 0 0 0 1 2 3 4 0 0 0 0 0 0 0\ncar 0 0 0 \xfe 2 3 4 0 0 0 0 0 0 0\n", "a.txt")
    with pytest.raises(UserError, match=r"a.txt:2: not UTF-8 text"):
        read_kitti(label)
    label.write_text("car 0 0 0 nan 2 30 40 0 0 0 0 0 0 0\n")
    with pytest.raises(UserError, match=r"a.txt:1: box coordinates must be finite numbers"):
        read_kitti(label)
    (tmp_path / "images" / "cat").mkdir(parents=True)
    listing = spec_file(tmp_path, b"cat/\xff.jpg\n", "list.txt")
    with pytest.raises(UserError, match=r"list.txt:1: not UTF-8 text"):
        read_split_list(tmp_path / "images", listing, "dataset.train_list")


@pytest.mark.parametrize("line,message", [("-1 0.5 0.5 0.2 0.2", "0 <= class_index < 2"),
                                          ("2 0.5 0.5 0.2 0.2", "0 <= class_index < 2"),
                                          ("0 50 40 20 20", "fractions of the image .*pixel values need converting")])
def test_yolo_lines(tmp_path, line, message):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    Image.new("RGB", (100, 80)).save(tmp_path / "images" / "a.jpg")
    (tmp_path / "labels" / "a.txt").write_text(line + "\n")
    with pytest.raises(UserError, match=f"a.txt:1: .*{message}"):
        read_yolo(tmp_path / "labels", tmp_path / "images", ["car", "bus"])


def test_a_class_mapping_that_maps_nothing_is_an_error(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    Image.new("RGB", (100, 80)).save(tmp_path / "images" / "a.jpg")
    (tmp_path / "labels" / "a.txt").write_text("car 0 0 0 1 2 30 40 0 0 0 0 0 0 0\n")
    source = DataSourceSpec(image_dir=str(tmp_path / "images"), label_dir=str(tmp_path / "labels"))
    with pytest.raises(UserError, match=r"target_class_mapping maps none of the classes of dataset.train \(car\).*"
                                        r"its keys are cra"):
        build_index(DetectionDatasetSpec(train=[source], target_class_mapping={"cra": "vehicle"}))


def test_classification_data_mistakes(tmp_path, capsys):
    from tao_cv.tasks import ADAPTERS

    for split, classes in (("train", ["cat"]), ("val", ["cat"])):
        for name in classes:
            (tmp_path / split / name).mkdir(parents=True)
            Image.new("RGB", (8, 8)).save(tmp_path / split / name / "a.jpg")
    (tmp_path / "train" / "dog").mkdir()  # an empty class folder: said, not silently dropped
    spec = SimpleNamespace(dataset=SimpleNamespace(root=str(tmp_path), image_root=None, train_list=None, val_list=None,
                                                   on_bad_image="fail"))
    with pytest.raises(UserError, match=r"the training images are of 1 class \(cat\); a classifier needs two or more"):
        ADAPTERS["classification"].read_data(spec)
    assert "holds no images" in " ".join(capsys.readouterr().err.split())
    (tmp_path / "val" / "bird").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "val" / "bird" / "b.jpg")
    Image.new("RGB", (8, 8)).save(tmp_path / "train" / "dog" / "c.jpg")
    with pytest.raises(UserError, match=r"class 'bird' has validation images \(e.g. .*b.jpg\) but no training images"):
        ADAPTERS["classification"].read_data(spec)
    assert len(scan_split_folder(tmp_path / "train", "dataset.root")) == 2


@pytest.mark.parametrize("override,message", [
    ("dataset.mean=[0.5]", r"dataset.mean \[0.5\] / dataset.std .*give three values each"),
    ("dataset.std=[0,0,0]", r"dataset.std \[0.0, 0.0, 0.0\]: every value must be above 0"),
    ("dataset.augmentation.random_resized_crop_scale=[1.0,0.5]", r"random_resized_crop_scale: \[1.0, 0.5\] — expected \[low, high\]"),
    ("dataset.augmentation.random_resized_crop_scale=[0.5]", r"random_resized_crop_scale: \[0.5\] — expected"),
])
def test_schema_valid_values_the_libraries_reject(tiny_spec, tmp_path, override, message):
    result = run_tao("classification", "train", "-e", tiny_spec, "-r", tmp_path / "run", override, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stdout, result.stdout
    assert __import__("re").search(message, " ".join(result.stdout.split())), result.stdout


def test_flag_ranges(tiny_spec, tmp_path):
    result = run_tao("classification", "train", "-e", tiny_spec, "--master_port", "99999", check=False)
    assert result.returncode == 2 and "--master_port: 99999 is out of range; expected 1 to 65535" in result.stdout
    result = run_tao("classification", "train", "-e", tiny_spec, "--num_nodes", "0", check=False)
    assert result.returncode == 2 and "--num_nodes: 0 is out of range; expected 1 or more" in result.stdout


def test_a_diverging_loss_stops_training_naming_the_epoch(tmp_path):
    from tao_cv.engine.trainer import fit, make_train_loader
    from tao_inference.contract import ModelInfo
    from tao_inference.spec.schemas import TrainSpec
    from tao_inference.status import StatusLogger

    data = torch.utils.data.TensorDataset(torch.randn(8, 3, 4, 4), torch.zeros(8, dtype=torch.long))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 2))
    spec = TrainSpec(num_epochs=2, batch_size=4, device="cpu", resume=False)
    with pytest.raises(UserError, match=r"training diverged: the loss is nan in epoch 1; lower train.optimizer.lr"):
        fit(model, train_loader=make_train_loader(data, 4, 0, 0), validate=lambda m: {"acc": 0.0}, spec=spec,
            results_dir=tmp_path, info=ModelInfo("t", "x", ("a", "b"), 4, 4, (0,) * 3, (1,) * 3), monitor="acc",
            status=StatusLogger(tmp_path / "status.json"), loss_fn=lambda outputs, y: outputs.sum() * math.nan)
    assert not (tmp_path / "weights" / "best.pth").exists()


def test_a_truncated_latest_checkpoint_names_the_fix(tiny_spec, tmp_path):
    latest = tmp_path / "run" / "checkpoints" / "latest.pth"
    latest.parent.mkdir(parents=True)
    latest.write_bytes(b"PK\x03\x04 truncated")
    result = run_tao("classification", "train", "-e", tiny_spec, "-r", tmp_path / "run", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stdout
    assert "cannot resume" in result.stdout and "train.resume=false" in result.stdout and "epoch_NNN.pth" in result.stdout


def test_more_spec_values_the_libraries_would_reject(tmp_path):
    from tao_inference.data.image_lists import split_samples
    from tao_inference.spec.schemas import ClassificationDatasetSpec

    with pytest.raises(UserError, match="'dataset.image_size' is 100000; expected a value between 8 and 4096"):
        load_spec(ClassificationSpec, None, ["dataset.image_size=100000"])
    with pytest.raises(UserError, match="'train.num_epochs' is 100000000000000000000000; expected a value between 1 and"):
        load_spec(ClassificationSpec, None, ["train.num_epochs=100000000000000000000000"])
    with pytest.raises(UserError, match="'train.optimizer.lr' is 0"):
        load_spec(ClassificationSpec, None, ["train.optimizer.lr=0"])
    with pytest.raises(UserError, match="set dataset.root .* or dataset.image_root with dataset.\\*_list files, not both"):
        split_samples(ClassificationDatasetSpec(root=str(tmp_path), image_root=str(tmp_path), train_list="t.txt"), "train")


def test_retinanet_anchor_sizes_need_five_levels():
    from tao_cv.tasks import ADAPTERS

    spec = load_spec(RetinaNetSpec, None, ["model.anchor_sizes=[16, 32]"])
    with pytest.raises(UserError, match=r"model.anchor_sizes: \[16, 32\] — give five sizes"):
        ADAPTERS["retinanet"].network_params(spec)


def test_detection_index_and_sources(tmp_path):
    from tao_inference.tasks.detection import load_index

    bad = spec_file(tmp_path, "{not json", "index.json")
    spec = load_spec(DetectNetV2Spec, None, [f"dataset.index={bad}"])
    with pytest.raises(UserError, match="not an index written by dataset_convert"):
        load_index(spec)
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    Image.new("RGB", (100, 80)).save(tmp_path / "images" / "a.jpg")
    (tmp_path / "labels" / "a.txt").write_text("DontCare 0 0 0 1 2 30 40 0 0 0 0 0 0 0\ncar 0 0 0 1 2 30 40 0 0 0 0 0 0 0\n")
    listing = spec_file(tmp_path, "a\nb\n", "list.txt")
    source = DataSourceSpec(image_dir=str(tmp_path / "images"), label_dir=str(tmp_path / "labels"), list_file=str(listing))
    with pytest.raises(UserError, match="1 listed image\\(s\\) not in .*, e.g. 'b'"):
        build_index(DetectionDatasetSpec(train=[source]))
    listing.write_text("a\n")
    assert build_index(DetectionDatasetSpec(train=[source]))["classes"] == ["car"]  # DontCare regions are no class
    voc = DataSourceSpec(format="voc", image_dir=str(tmp_path / "images"), label_dir=str(tmp_path / "labels"))
    with pytest.raises(UserError, match="no VOC .xml annotations there"):
        build_index(DetectionDatasetSpec(train=[voc]))


def test_the_kitti_copy_of_a_class_named_with_spaces_is_readable_again(tmp_path):
    from tao_inference.data.converters import write_kitti_dataset
    from tao_inference.data.kitti import KittiObject

    Image.new("RGB", (100, 80)).save(tmp_path / "a.jpg")
    _, labels = write_kitti_dataset({tmp_path / "a.jpg": [KittiObject("traffic light", 1, 2, 30, 40)]}, tmp_path / "out")
    assert [o.name for o in read_kitti(labels / "a.txt")] == ["traffic_light"]


def test_an_error_inside_a_dataset_source_entry_names_its_line(tmp_path):
    spec = spec_file(tmp_path, "dataset:\n  train:\n    - {format: kitti, image_dir: a}\n    - format: kitt\n      image_dir: b\n")
    with pytest.raises(UserError, match=r"spec.yaml:4: 'dataset.train\[1\].format' is 'kitt'; expected one of: kitti"):
        load_spec(DetectNetV2Spec, spec)


def test_dataset_convert_warns_of_a_box_wholly_outside_its_image(tmp_path):
    from tao_inference.data.detection_index import check_readable

    Image.new("RGB", (100, 80)).save(tmp_path / "a.jpg")
    index = {"train": [{"image": str(tmp_path / "a.jpg"), "objects": [["car", 120, 10, 150, 40], ["car", 1, 1, 9, 9]]}],
             "val": [], "test": []}
    with pytest.warns(UserWarning, match=r"a.jpg: the car box \(120, 10, 150, 40\) lies wholly outside the 100x80 image"):
        check_readable(index)
