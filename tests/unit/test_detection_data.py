"""KITTI parsing, converters into KITTI, class mapping and splits, box-consistent augmentation."""

import json
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from tao_inference.data.converters import read_coco, read_voc, read_yolo, write_kitti_dataset
from tao_cv.data.detection import DetectionDataset, detection_transform
from tao_inference.data.detection_index import build_index
from tao_inference.data.kitti import DegenerateBoxWarning, KittiObject, pair_images_and_labels, parse_kitti, read_kitti
from tao_inference.errors import UserError
from tao_inference.spec.schemas import DataSourceSpec, DetectionAugmentationSpec, DetectionDatasetSpec

LINE = "Car 0.00 0 -1.57 10.0 20.0 50.5 80.0 1.5 1.6 3.9 1.0 1.0 10.0 0.0"


def test_kitti_lines_parse_lowercased_with_optional_score():
    (car,) = parse_kitti(LINE)
    assert car.name == "car" and car.box == (10.0, 20.0, 50.5, 80.0) and car.score is None
    (scored,) = parse_kitti(LINE + " 0.87")
    assert scored.score == pytest.approx(0.87)
    assert parse_kitti(car.line()) == [car]


def test_degenerate_boxes_are_skipped_with_file_and_line():
    text = LINE + "\n" + "pedestrian 0 0 0 30 40 30 90 0 0 0 0 0 0 0\n" + "cyclist 0 0 0 5 9 8 4 0 0 0 0 0 0 0\n"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        objects = parse_kitti(text, source="a.txt")
    assert [o.name for o in objects] == ["car"]
    messages = [str(w.message) for w in caught if w.category is DegenerateBoxWarning]
    assert messages[0].startswith("a.txt:2: skipping box") and messages[1].startswith("a.txt:3: skipping box")


@pytest.mark.parametrize("line, message", [
    ("car 0 0 0 1 2 3", "a.txt:2: a KITTI label line has 15 fields (16 with a score), found 7"),
    ("car 0 0 0 1 2 3 x 0 0 0 0 0 0 0", "a.txt:2: fields 2-15 of a KITTI line must be numbers"),
])
def test_malformed_lines_are_errors_naming_file_and_line(line, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_kitti(LINE + "\n" + line, source="a.txt")


def _image(path, size=(100, 80)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (20, 30, 40)).save(path)
    return path


def test_images_without_labels_are_reported(tmp_path):
    _image(tmp_path / "img" / "a.jpg")
    (tmp_path / "lab").mkdir()
    with pytest.raises(UserError, match=r"1 image\(s\) in .* have no label file .*a.txt"):
        pair_images_and_labels(tmp_path / "img", tmp_path / "lab")


BOXES = [("rbc", 10.0, 12.0, 40.0, 30.0), ("wbc", 50.0, 5.0, 90.0, 70.0)]


def test_voc_coco_yolo_convert_to_the_same_kitti_boxes(tmp_path):
    image = _image(tmp_path / "images" / "s1.jpg")
    objects = "".join(f"<object><name>{n.upper()}</name><difficult>0</difficult><bndbox><xmin>{a}</xmin><ymin>{b}</ymin>"
                      f"<xmax>{c}</xmax><ymax>{d}</ymax></bndbox></object>" for n, a, b, c, d in BOXES)
    (tmp_path / "voc").mkdir()
    (tmp_path / "voc" / "s1.xml").write_text(f"<annotation><filename>s1.jpg</filename>{objects}</annotation>")
    coco = {"images": [{"id": 7, "file_name": "s1.jpg"}], "categories": [{"id": 1, "name": "RBC"}, {"id": 2, "name": "WBC"}],
            "annotations": [{"image_id": 7, "category_id": i + 1, "bbox": [a, b, c - a, d - b]}
                            for i, (_, a, b, c, d) in enumerate(BOXES)]}
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    (tmp_path / "yolo").mkdir()
    (tmp_path / "yolo" / "s1.txt").write_text("".join(
        f"{i} {(a + c) / 200} {(b + d) / 160} {(c - a) / 100} {(d - b) / 80}\n" for i, (_, a, b, c, d) in enumerate(BOXES)))
    for samples in (read_voc(tmp_path / "voc", tmp_path / "images"), read_coco(tmp_path / "coco.json", tmp_path / "images"),
                    read_yolo(tmp_path / "yolo", tmp_path / "images", ["rbc", "wbc"])):
        (objects,) = samples.values()
        assert [(o.name, *np.round(o.box, 3)) for o in objects] == BOXES
        # round trip through KITTI files
        _, label_dir = write_kitti_dataset(samples, tmp_path / "kitti")
        assert [(o.name, *o.box) for o in read_kitti(label_dir / "s1.txt")] == BOXES
    assert (tmp_path / "kitti" / "images" / "s1.jpg").read_bytes() == image.read_bytes()
    (tmp_path / "voc" / "s1.xml").write_text("<annotation><object><name>x</name></object>")
    with pytest.raises(UserError, match="s1.xml: not valid XML"):
        read_voc(tmp_path / "voc", tmp_path / "images")
    (tmp_path / "yolo" / "s1.txt").write_text("5 0.5 0.5 0.1 0.1\n")
    with pytest.raises(UserError, match=r"s1.txt:1: a YOLO line is"):
        read_yolo(tmp_path / "yolo", tmp_path / "images", ["rbc", "wbc"])


def _kitti_source(tmp_path, count=10):
    for i in range(count):
        _image(tmp_path / "img" / f"{i:02d}.jpg")
        (tmp_path / "lab").mkdir(exist_ok=True)
        (tmp_path / "lab" / f"{i:02d}.txt").write_text(
            "".join(KittiObject(n, a, b, c, d).line() + "\n" for n, a, b, c, d in BOXES) + "Platelets 0 0 0 1 1 9 9 0 0 0 0 0 0 0\n")
    return DataSourceSpec(format="kitti", image_dir=str(tmp_path / "img"), label_dir=str(tmp_path / "lab"))


def test_class_mapping_and_validation_split(tmp_path):
    spec = DetectionDatasetSpec(train=[_kitti_source(tmp_path)], validation_split=0.3,
                                target_class_mapping={"RBC": "cell", "WBC": "cell"})
    index = build_index(spec, seed=1)
    assert index["classes"] == ["cell"] and len(index["train"]) == 7 and len(index["val"]) == 3
    assert all([o[0] for o in s["objects"]] == ["cell", "cell"] for s in index["train"] + index["val"])  # platelets dropped
    assert build_index(spec, seed=1)["val"] == index["val"]  # the split is reproducible
    assert build_index(DetectionDatasetSpec(train=[_kitti_source(tmp_path)]))["classes"] == ["platelets", "rbc", "wbc"]


def _augment_spec(**values):
    base = {f: 0.0 for f in DetectionAugmentationSpec.__dataclass_fields__}
    return SimpleNamespace(**{**base, **values})


def test_flip_moves_a_known_box(tmp_path):
    image = _image(tmp_path / "a.jpg", (100, 80))
    transform = detection_transform(100, 80, (0, 0, 0), (1, 1, 1), _augment_spec(horizontal_flip=1.0))
    dataset = DetectionDataset([{"image": str(image), "objects": [["rbc", 10, 12, 40, 30]]}], ["rbc"], transform)
    _, target = dataset[0]
    assert target["boxes"].tolist() == [[60.0, 12.0, 90.0, 30.0]] and target["labels"].tolist() == [0]


def test_rotation_and_shear_keep_boxes_on_their_objects(tmp_path):
    """A white rectangle on black: after a random rotation/shear/translation the transformed box must still be
    the extent of the (transformed) white pixels."""
    array = np.zeros((120, 160, 3), np.uint8)
    array[40:70, 50:110] = 255
    Image.fromarray(array).save(tmp_path / "r.png")
    aug = _augment_spec(rotation_degrees=30.0, shear_degrees=10.0, translate=0.1)
    dataset = DetectionDataset([{"image": str(tmp_path / "r.png"), "objects": [["obj", 50, 40, 110, 70]]}], ["obj"],
                               detection_transform(160, 120, (0, 0, 0), (1, 1, 1), aug))
    for seed in range(5):
        torch.manual_seed(seed)
        image, target = dataset[0]
        ys, xs = np.nonzero(image.mean(0).numpy() > 0.5)
        extent = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        assert np.allclose(target["boxes"][0].numpy(), extent, atol=3.0), (seed, target["boxes"], extent)


def test_dataset_entries_cannot_lead_outside_their_folder(tmp_path):
    from tao_inference.data.image_lists import read_split_list

    root = tmp_path / "images"
    (root / "cat").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(root / "cat" / "a.jpg")
    (tmp_path / "secret").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "secret" / "b.jpg")
    listing = tmp_path / "train.txt"
    listing.write_text("cat/a.jpg\ncat/../../secret/b.jpg\n")
    with pytest.raises(UserError, match=r"train.txt:2: 'cat/../../secret/b.jpg' leads outside .*images; name files inside"):
        read_split_list(root, listing, "dataset.train_list")
    coco = tmp_path / "coco.json"
    coco.write_text(json.dumps({"images": [{"id": 1, "file_name": str(tmp_path / "secret" / "b.jpg")}],
                                "categories": [{"id": 1, "name": "x"}], "annotations": []}))
    with pytest.raises(UserError, match=r"coco.json: images\[0\].file_name: '/.*b.jpg' leads outside"):
        read_coco(coco, root)
    # a file of the folder that links elsewhere (a dataset linked, not copied) is read
    (root / "cat" / "linked.jpg").symlink_to(tmp_path / "secret" / "b.jpg")
    listing.write_text("cat/a.jpg\ncat/linked.jpg\n")
    assert [p.name for p, _ in read_split_list(root, listing, "dataset.train_list")] == ["a.jpg", "linked.jpg"]


@pytest.mark.parametrize("content,message", [
    ({"images": [], "categories": [{"id": 1, "name": 5}]}, "not a COCO detection file .*categories \\(id, name: text\\)"),
    ({"images": [], "categories": [], "annotations": 5}, "'annotations' must be a list"),
    ({"images": [{"id": 1, "file_name": None}], "categories": []}, r"images\[0\] \(id 1\) needs a file_name"),
])
def test_malformed_coco_files_name_what_is_wrong(tmp_path, content, message):
    coco = tmp_path / "coco.json"
    coco.write_text(json.dumps(content))
    with pytest.raises(UserError, match=message):
        read_coco(coco, tmp_path)


def test_suggested_per_class_minimum_height_is_half_the_lowest_percentile_at_the_input_size():
    from tao_inference.networks.detectnet_v2 import suggested_per_class

    samples = [{"image": "a.jpg", "objects": [["rbc", 0, 0, 10, 40 + i] for i in range(101)] + [["wbc", 0, 10, 5, 110]]},
               {"image": "b.jpg", "objects": [["wbc", 0, 0, 5, 50]]}]
    sizes = {"a.jpg": (400, 400), "b.jpg": (200, 200)}  # a.jpg is shown at half its size, b.jpg at full size
    suggested = suggested_per_class(samples, sizes, input_height=200)
    # rbc heights at the input: 20.0, 20.5, ... 70.0 -> 1st percentile 20.5; wbc: 50 (a.jpg) and 50 (b.jpg)
    assert suggested == {"rbc": {"minimum_height": 10.2}, "wbc": {"minimum_height": 25.0}}
