"""Property-based tests (hypothesis): every reader of user files, given generated and mutated inputs — 1,000 per
reader — either succeeds or raises the toolkit's user error (the CLI's `error:` line and exit 2), never anything
else (a traceback), and writes nothing. Bounded: no deadline per example, a fixed example count."""

import json
import os
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tao_inference.errors import UserError
from tao_inference.spec import load_spec
from tao_inference.spec.loader import all_keys
from tao_inference.spec.schemas import ClassificationSpec, DetectNetV2Spec, RetinaNetSpec
from tao_launcher.errors import LauncherError

EXAMPLES = settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
KEYS = sorted({key for schema in (ClassificationSpec, DetectNetV2Spec, RetinaNetSpec) for key in all_keys(schema)})
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**30), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["imagenet", "sgd", "../x", "/etc", ".nan", "1e23", "[]"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=8)


def mutated(text):
    """The valid `text` with bytes flipped, cut or inserted — or any bytes at all."""
    data = text.encode()
    return st.one_of(
        st.binary(max_size=200),
        st.tuples(st.integers(0, len(data)), st.integers(0, 255)).map(lambda t: data[:t[0]] + bytes([t[1]]) + data[t[0] + 1:]),
        st.integers(0, len(data)).map(lambda n: data[:n]),
        st.tuples(st.integers(0, len(data)), st.binary(max_size=8)).map(lambda t: data[:t[0]] + t[1] + data[t[0]:]),
    )


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def nothing_written(work, before):
    assert {p for p in work.rglob("*")} == before, "a reader wrote a file"


def only_user_errors(call, *errors):
    try:
        call()
    except (UserError, *errors):
        pass


@EXAMPLES
@given(st.one_of(
    st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6).map(lambda d: yaml.safe_dump(d).encode()),
    mutated("dataset:\n  root: data\n  image_size: 32\ntrain:\n  num_epochs: 2\n  optimizer: {name: sgd, lr: 0.1}\n")))
def test_spec_loader(work, text):
    path = work / "spec.yaml"
    path.write_bytes(text)
    before = set(work.rglob("*"))
    only_user_errors(lambda: load_spec(ClassificationSpec, path))
    only_user_errors(lambda: load_spec(RetinaNetSpec, None, [f"model.{t}" for t in text.decode("latin-1").split()[:3]]))
    nothing_written(work, before)


KITTI = "car 0.00 0 -1.57 10.0 20.0 50.5 80.0 1.5 1.6 3.9 1.0 1.0 10.0 0.0\nbus 0.5 1 0 1 2 3 4 0 0 0 0 0 0 0 0.9\n"


@EXAMPLES
@given(mutated(KITTI))
def test_kitti_labels(work, text):
    import warnings

    from tao_inference.data.kitti import read_kitti

    path = work / "label.txt"
    path.write_bytes(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        only_user_errors(lambda: read_kitti(path))


@pytest.fixture(scope="module")
def images(work):
    folder = work / "images"
    folder.mkdir()
    Image.new("RGB", (64, 48)).save(folder / "a.jpg")
    return folder


VOC = ("<annotation><filename>a.jpg</filename><object><name>cell</name><truncated>0</truncated><difficult>0"
       "</difficult><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object></annotation>")
COCO = json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 3, "name": "cell"}],
                   "annotations": [{"image_id": 1, "category_id": 3, "bbox": [1, 2, 20, 30]}]})


@EXAMPLES
@given(mutated(VOC), mutated(COCO), mutated("0 0.5 0.5 0.2 0.3\n1 0.1 0.1 0.05 0.05\n"))
def test_voc_coco_yolo(work, images, voc, coco, yolo):
    import warnings

    from tao_inference.data.converters import read_coco, read_voc, read_yolo

    labels = work / "labels"
    labels.mkdir(exist_ok=True)
    (labels / "a.xml").write_bytes(voc)
    (labels / "a.txt").write_bytes(yolo)
    (work / "coco.json").write_bytes(coco)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        only_user_errors(lambda: read_voc(labels, images))
        only_user_errors(lambda: read_coco(work / "coco.json", images))
        only_user_errors(lambda: read_yolo(labels, images, ["cell", "rbc"]))


COCO_INSTANCES = json.dumps({
    "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}], "categories": [{"id": 3, "name": "cell"}],
    "annotations": [{"image_id": 1, "category_id": 3, "bbox": [1, 2, 20, 30], "segmentation": [[1, 2, 21, 2, 21, 32]]},
                    {"image_id": 1, "category_id": 3, "bbox": [1, 2, 5, 5], "iscrowd": 1,
                     "segmentation": {"size": [48, 64], "counts": [100, 20, 2952]}}]})


@EXAMPLES
@given(st.one_of(mutated(COCO_INSTANCES), st.one_of(
    VALUES,
    st.fixed_dictionaries({"size": st.just([48, 64]), "counts": st.one_of(
        st.lists(st.integers(-10, 4000), max_size=5), st.text(max_size=12),
        st.text(alphabet=[chr(c) for c in range(40, 120)], max_size=12))}),
    st.lists(st.lists(st.floats(), min_size=6, max_size=8), min_size=1, max_size=2),
).map(lambda seg: json.dumps({
    **json.loads(COCO_INSTANCES), "annotations": [{"image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4],
                                                   "segmentation": seg}]}).encode())))
def test_coco_instances(work, images, text):
    """Whatever the reader accepts, its masks decode: the reader, not pycocotools, rejects a bad segmentation."""
    from tao_inference.data.coco_instances import decode_mask, read_coco_instances

    path = work / "instances.json"
    path.write_bytes(text)

    def read_and_decode():
        for sample in read_coco_instances(path, images, "dataset.train[0]")[1]:
            for obj in sample["objects"]:
                assert decode_mask(obj["segmentation"], sample["height"], sample["width"]).shape == (48, 64)

    only_user_errors(read_and_decode)


@EXAMPLES
@given(mutated("cat/a.jpg\n# a comment\ncat/a.jpg\n"))
def test_list_files(work, images, text):
    from tao_inference.data.image_lists import read_split_list

    (images / "cat").mkdir(exist_ok=True)
    Image.new("RGB", (8, 8)).save(images / "cat" / "a.jpg")
    listing = work / "train.txt"
    listing.write_bytes(text)
    only_user_errors(lambda: read_split_list(images, listing, "dataset.train_list"))


@EXAMPLES
@given(st.one_of(st.dictionaries(st.sampled_from(["Mounts", "Envs", "DockerOptions", "mounts"]), VALUES, max_size=3)
                 .map(lambda d: json.dumps(d).encode()),
                 mutated(json.dumps({"Mounts": [{"source": "/tmp", "destination": "/workspace/tmp"}],
                                     "Envs": [{"variable": "A", "value": "1"}], "DockerOptions": {"shm_size": "1G"}}))))
def test_mounts_file(work, text):
    from tao_launcher.mounts import load_mounts

    path = work / "mounts.json"
    path.write_bytes(text)
    only_user_errors(lambda: load_mounts(path), LauncherError)


@pytest.fixture(scope="module")
def checkpoint_bytes(work):
    from tao_cv.engine.checkpoint import save_checkpoint
    from tao_inference.contract import ModelInfo

    path = work / "real.pth"
    save_checkpoint(path, torch.nn.Linear(2, 2), ModelInfo("classification", "x", ("a", "b"), 8, 8, (0,) * 3, (1,) * 3))
    return path.read_bytes()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on a mutated header byte
@EXAMPLES
@given(data=st.data())
def test_checkpoint_loader(work, checkpoint_bytes, data, monkeypatch):
    from tao_cv.engine.checkpoint import read_checkpoint

    monkeypatch.delenv("TAO_TRUST_CHECKPOINTS", raising=False)
    blob = data.draw(st.one_of(
        st.binary(max_size=300),
        st.tuples(st.integers(0, len(checkpoint_bytes) - 1), st.integers(0, 255))
        .map(lambda t: checkpoint_bytes[:t[0]] + bytes([t[1]]) + checkpoint_bytes[t[0] + 1:]),
        st.integers(0, len(checkpoint_bytes)).map(lambda n: checkpoint_bytes[:n])))
    path = work / "fuzzed.pth"
    path.write_bytes(blob)
    before = set(Path(os.getcwd()).iterdir())
    only_user_errors(lambda: read_checkpoint(path))
    assert set(Path(os.getcwd()).iterdir()) == before
