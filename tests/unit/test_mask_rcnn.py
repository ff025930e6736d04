"""Mask R-CNN: COCO instance data (polygons, RLE), mask pasting, COCO box/mask AP, the model's fixed-shape outputs
and losses, frozen BatchNorm, pruning with the heads kept, fixed-batch ONNX run in chunks, the generated sample."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tao_inference.contract import ModelInfo
from tao_inference.data.coco_instances import (decode_mask, encode_mask, load_instances, read_coco_instances,
                                               summary)
from tao_inference.errors import UserError
from tao_inference.metrics import coco_instance_metrics
from tao_inference.spec.schemas import CocoSourceSpec, MaskRCNNSpec
from tao_inference.tasks.instance_segmentation import decode, paste_mask
from tao_cv.data.detection import detection_transform
from tao_cv.data.instances import InstanceDataset
from tao_cv.data.sample import generate_instance_sample
from tao_cv.prune import layer_widths, replay_pruning
from tao_cv.tasks.mask_rcnn import ADAPTER


def _coco(tmp_path, annotations, size=(40, 30), categories=({"id": 1, "name": "cell"},)):
    (tmp_path / "images").mkdir(exist_ok=True)
    Image.new("RGB", size).save(tmp_path / "images" / "a.png")
    path = tmp_path / "instances.json"
    path.write_text(json.dumps({"images": [{"id": 7, "file_name": "a.png", "width": size[0], "height": size[1]}],
                                "categories": list(categories), "annotations": annotations}))
    return path


def test_polygons_and_both_kinds_of_rle_read_as_the_same_masks(tmp_path):
    square = np.zeros((30, 40), np.uint8)
    square[5:15, 10:20] = 1
    compressed = encode_mask(square)
    from pycocotools import mask as coco_mask

    runs, value, count = [], 0, 0  # uncompressed RLE: column-major run lengths, starting with zeros
    for pixel in square.T.ravel():
        if pixel != value:
            runs.append(count)
            value, count = pixel, 0
        count += 1
    runs.append(count)
    annotations = [
        {"image_id": 7, "category_id": 1, "bbox": [10, 5, 10, 10], "segmentation": [[10, 5, 20, 5, 20, 15, 10, 15]]},
        {"image_id": 7, "category_id": 1, "bbox": [10, 5, 10, 10], "segmentation": compressed},
        {"image_id": 7, "category_id": 1, "bbox": [10, 5, 10, 10], "iscrowd": 1,
         "segmentation": {"size": [30, 40], "counts": runs}}]
    classes, samples = read_coco_instances(_coco(tmp_path, annotations), tmp_path / "images", "dataset.train[0]")
    assert classes == ["cell"] and len(samples) == 1 and samples[0]["width"] == 40
    objects = samples[0]["objects"]
    assert [o["iscrowd"] for o in objects] == [0, 0, 1] and objects[0]["box"] == [10.0, 5.0, 20.0, 15.0]
    masks = [decode_mask(o["segmentation"], 30, 40) for o in objects]
    assert all(m.shape == (30, 40) for m in masks)
    assert (masks[1] == square).all() and (masks[2] == square).all()
    assert abs(int(masks[0].sum()) - 100) <= 25  # a polygon rasterizes its border pixels too
    assert int(coco_mask.area(coco_mask.encode(np.asfortranarray(square)))) == 100
    assert summary(samples, classes)["per_class"] == {"cell": {"instances": 2, "crowd": 1}}


@pytest.mark.parametrize("annotation, message", [
    ({"image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5], "segmentation": [[1, 2, 3]]},
     r"annotations\[0\]: segmentation polygons are lists of x, y numbers"),
    ({"image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5], "segmentation": {"size": [10, 10], "counts": "x"}},
     r"annotations\[0\]: RLE size \[10, 10\] is not the image's \[height, width\] \[30, 40\]"),
    ({"image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5]}, r"annotations\[0\]: needs a segmentation"),
    ({"image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5], "segmentation": {"size": [30, 40], "counts": [5, 10]}},
     r"annotations\[0\]: RLE runs must be non-negative and cover the image's 30 x 40 pixels \(they sum to 15\)"),
    ({"image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5], "segmentation": {"size": [30, 40], "counts": "ab~"}},
     r"annotations\[0\]: RLE counts: character '~' is not of COCO's RLE alphabet"),
    ({"image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5], "segmentation": {"size": [30, 40], "counts": "0k"}},
     r"annotations\[0\]: RLE counts: it ends inside a run length"),
    ({"image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5], "segmentation": [[1, 2, 3, 4, 1e308, 6]]},
     r"annotations\[0\]: a polygon point is not a finite number near the image \(40x30\)"),
    ({"image_id": 8, "category_id": 1, "bbox": [0, 0, 5, 5], "segmentation": [[1, 1, 4, 1, 4, 4]]},
     r"annotations\[0\] needs image_id, category_id \(of listed images and categories\)"),
    ({"image_id": 7, "category_id": 1, "bbox": [0, 0, 0, 5], "segmentation": [[1, 1, 4, 1, 4, 4]]},
     r"annotations\[0\]: bbox \[0, 0, 0, 5\] has no area"),
])
def test_a_bad_annotation_is_an_error_naming_the_file_and_entry(tmp_path, annotation, message):
    path = _coco(tmp_path, [annotation])
    with pytest.raises(UserError, match=message) as error:
        read_coco_instances(path, tmp_path / "images", "dataset.train[0]")
    assert str(path) in str(error.value)


def test_missing_images_and_unknown_validation_categories_are_errors(tmp_path):
    path = _coco(tmp_path, [])
    (tmp_path / "images" / "a.png").unlink()
    with pytest.raises(UserError, match=r"images\[0\] \(id 7\): image .*a.png not found \(file_names are relative to "
                                        r"dataset.val\[0\].image_dir"):
        read_coco_instances(path, tmp_path / "images", "dataset.val[0]")
    train, val = tmp_path / "train", tmp_path / "val"
    train.mkdir(), val.mkdir()
    _coco(train, [])
    _coco(val, [{"image_id": 7, "category_id": 2, "bbox": [1, 1, 3, 3], "segmentation": [[1, 1, 4, 1, 4, 4]]}],
          categories=({"id": 2, "name": "nucleus"},))
    spec = MaskRCNNSpec()
    spec.dataset.train = [CocoSourceSpec(str(train / "images"), str(train / "instances.json"))]
    spec.dataset.val = [CocoSourceSpec(str(val / "images"), str(val / "instances.json"))]
    with pytest.raises(UserError, match=r"dataset.val: .*a.png has an object of category 'nucleus', which the "
                                        r"training categories \['cell'\] do not have"):
        load_instances(spec.dataset, ("train", "val"))


def test_a_pasted_mask_fills_its_box_at_the_image_size():
    full = np.ones((28, 28), np.float32)
    mask = paste_mask(full, [10.0, 20.0, 50.0, 40.0], 64, 48, 0.5)
    assert mask.shape == (48, 64)
    box = np.zeros_like(mask)
    box[20:40, 10:50] = True
    assert (mask & box).sum() / (mask | box).sum() > 0.9
    assert not mask[:15].any() and not mask[:, 55:].any()
    # a box hanging over the border is cut there
    assert paste_mask(full, [-10.0, -10.0, 10.0, 10.0], 64, 48, 0.5)[:8, :8].all()


def test_decode_scales_boxes_to_the_image_and_drops_the_padding():
    info = ModelInfo(task="mask_rcnn", backbone="resnet18", class_names=("a", "b"), input_height=32, input_width=32,
                     mean=(0.5,) * 3, std=(0.5,) * 3, network={})
    boxes = np.array([[0, 0, 16, 16], [8, 8, 24, 24], [0, 0, 0, 0]], np.float32)
    scores, labels = np.array([0.4, 0.9, 0.0], np.float32), np.array([0, 1, 0], np.float32)
    masks = np.ones((3, 14, 14), np.float32)
    found = decode((boxes, scores, labels, masks), info, (64, 128), 0.5)
    assert [d["label"] for d in found] == [1, 0] and found[0]["score"] == pytest.approx(0.9)
    assert found[0]["box"] == [16.0, 32.0, 48.0, 96.0] and found[0]["mask"].shape == (128, 64)
    assert len(decode((boxes, scores, labels, masks), info, (64, 128), 0.5, min_score=0.5)) == 1


def test_coco_box_and_mask_ap_of_perfect_and_wrong_predictions():
    square = np.zeros((30, 40), np.uint8)
    square[5:15, 10:20] = 1
    other = np.zeros_like(square)
    other[18:28, 25:38] = 1
    truth = [{"width": 40, "height": 30, "objects": [
        {"class": "a", "box": [10, 5, 20, 15], "segmentation": encode_mask(square), "iscrowd": 0},
        {"class": "b", "box": [25, 18, 38, 28], "segmentation": encode_mask(other), "iscrowd": 0}]}]
    perfect = [[{"label": 0, "score": 0.9, "box": [10, 5, 20, 15], "rle": encode_mask(square)},
                {"label": 1, "score": 0.8, "box": [25, 18, 38, 28], "rle": encode_mask(other)}]]
    result = coco_instance_metrics(truth, perfect, ["a", "b"])
    assert result["box"]["AP"] == pytest.approx(1.0) and result["mask"]["AP"] == pytest.approx(1.0)
    assert result["mask"]["per_class"] == {"a": pytest.approx(1.0), "b": pytest.approx(1.0)}
    assert set(result["mask"]["pr"]) == {"a", "b"}
    # right boxes, but the masks swapped between the two objects: box AP stays, mask AP falls
    swapped = [[{**perfect[0][0], "rle": encode_mask(other)}, {**perfect[0][1], "rle": encode_mask(square)}]]
    result = coco_instance_metrics(truth, swapped, ["a", "b"])
    assert result["box"]["AP"] == pytest.approx(1.0) and result["mask"]["AP"] == 0.0
    assert coco_instance_metrics(truth, [[]], ["a", "b"])["mask"]["AP"] == 0.0


def _info(**model):
    spec = MaskRCNNSpec()
    spec.dataset.image_width = spec.dataset.image_height = 64
    spec.model.fpn_channels, spec.model.fast_rcnn_mlp_head_dim, spec.model.test_detections_per_image = 16, 32, 5
    for key, value in model.items():
        setattr(spec.model, key, value)
    return spec, ADAPTER.model_info(spec, ["circle", "square"])


def _targets():
    masks = torch.zeros(1, 64, 64, dtype=torch.uint8)
    masks[0, 10:30, 12:40] = 1
    return [{"boxes": torch.tensor([[12.0, 10.0, 40.0, 30.0]]), "labels": torch.tensor([1]), "masks": masks},
            {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64),
             "masks": torch.zeros(0, 64, 64, dtype=torch.uint8)}]


def test_the_model_returns_losses_in_training_and_padded_fixed_shapes_in_evaluation():
    spec, info = _info(freeze_bn=False)
    model = ADAPTER.rebuild(info)
    torch.manual_seed(0)
    images = torch.randn(2, 3, 64, 64)
    losses = model.train()(images, _targets())
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness", "loss_rpn_box_reg"}
    loss = ADAPTER.loss(spec, info, model)(losses, _targets())
    assert torch.isfinite(loss) and loss.requires_grad
    model.net.roi_heads.score_thresh = 0.0  # an untrained model: every detection counts
    with torch.no_grad():
        boxes, scores, labels, masks = model.eval()(images)
    assert boxes.shape == (2, 5, 4) and scores.shape == (2, 5) and labels.shape == (2, 5)
    assert masks.shape == (2, 5, 28, 28) and float(masks.min()) >= 0 and float(masks.max()) <= 1
    assert int(labels.max()) <= 1 and int(labels.min()) >= 0  # class indices, background not among them


def test_freeze_bn_keeps_the_backbone_statistics_while_training():
    spec, info = _info(freeze_bn=True)
    model = ADAPTER.rebuild(info).train()
    bn = next(m for m in model.net.backbone.body.modules() if isinstance(m, torch.nn.BatchNorm2d))
    before = bn.running_mean.clone()
    model(torch.randn(2, 3, 64, 64) * 3 + 1, _targets())
    assert not bn.training and torch.equal(bn.running_mean, before)
    spec, info = _info(freeze_bn=False)
    model = ADAPTER.rebuild(info).train()
    bn = next(m for m in model.net.backbone.body.modules() if isinstance(m, torch.nn.BatchNorm2d))
    model(torch.randn(2, 3, 64, 64) * 3 + 1, _targets())
    assert not torch.equal(bn.running_mean, before)


def test_pruning_cuts_the_backbone_fpn_laterals_and_box_head_and_keeps_the_outputs():
    from tao_cv.prune import cut, keep_counts, plan, score_groups

    _, info = _info()
    model = ADAPTER.rebuild(info).eval()
    example = torch.zeros(1, 3, 64, 64)
    before = layer_widths(model)
    scored = score_groups(model, example, heads=ADAPTER.heads(model))
    hidden = "net.roi_heads.box_head"
    roots = [entry["root"] for entry in scored]
    assert any(r.startswith("net.backbone.body") for r in roots)
    assert {r for r in roots if r.startswith(("net.rpn", "net.roi_heads"))} == {
        "net.roi_heads.box_head.fc6", "net.roi_heads.box_head.fc7"}
    assert not any(r.startswith("net.backbone.fpn.layer_blocks") for r in roots)
    cut(model, example, scored, keep_counts(plan(scored, threshold=2.0, granularity=8, min_filters=8)))
    after = layer_widths(model)
    assert after["net.backbone.body.0"] < before["net.backbone.body.0"]
    assert after["net.backbone.fpn.inner_blocks.0.0"] < before["net.backbone.fpn.inner_blocks.0.0"]
    assert all(after[n] < before[n] for n in ("net.roi_heads.box_head.fc6", "net.roi_heads.box_head.fc7"))
    heads = [n for n in before if n.startswith(("net.rpn", "net.roi_heads", "net.backbone.fpn.layer_blocks"))
             and not n.startswith(hidden)]
    assert heads and all(after[n] == before[n] for n in heads)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64))[3].shape == (1, 5, 28, 28)
    # the checkpoint's widths rebuild the same network
    rebuilt = replay_pruning(ADAPTER.rebuild(info), after, example)
    rebuilt.load_state_dict(model.state_dict())


def test_the_training_dataset_moves_masks_with_boxes_and_images(tmp_path):
    generate_instance_sample(tmp_path / "data", (3, 1, 1), size=64, seed=1)
    classes, samples = read_coco_instances(tmp_path / "data" / "train" / "annotations.json",
                                           tmp_path / "data" / "train" / "images", "dataset.train[0]")
    assert classes == ["circle", "square", "star"] and len(samples) == 3
    for sample in samples:
        for obj in sample["objects"]:  # the generated boxes are tight around the generated masks
            mask = decode_mask(obj["segmentation"], 64, 64)
            ys, xs = np.nonzero(mask)
            assert obj["box"] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    spec = MaskRCNNSpec()
    aug = spec.dataset.augmentation
    aug.horizontal_flip, aug.brightness, aug.contrast, aug.saturation = 1.0, 0.0, 0.0, 0.0
    transform = detection_transform(32, 32, (0.0,) * 3, (1.0,) * 3, aug)
    image, target = InstanceDataset(samples, classes, transform)[0]
    n = len(samples[0]["objects"])
    assert image.shape == (3, 32, 32) and target["masks"].shape == (n, 32, 32) and len(target["labels"]) == n
    for box, mask in zip(target["boxes"], target["masks"]):  # flipped and resized together
        ys, xs = torch.nonzero(mask, as_tuple=True)
        assert abs(float(xs.min()) - float(box[0])) <= 1.5 and abs(float(xs.max()) + 1 - float(box[2])) <= 1.5
    keep_one = InstanceDataset(samples, classes, transform, max_instances=1)[0][1]
    assert len(keep_one["labels"]) == min(1, n)


def test_a_fixed_batch_onnx_model_runs_a_larger_batch_in_chunks(tmp_path):
    from tao_inference.contract import attach_contract, make_contract
    from tao_inference.runtime import OnnxPredictor

    model = torch.nn.Conv2d(3, 2, 3, padding=1).eval()
    path = tmp_path / "fixed.onnx"
    torch.onnx.export(model, (torch.zeros(1, 3, 8, 8),), str(path), input_names=["input"], dynamo=False)
    info = ModelInfo(task="mask_rcnn", backbone="resnet18", class_names=("a",), input_height=8, input_width=8,
                     mean=(0.0,) * 3, std=(1.0,) * 3, network={})
    contract = make_contract(info, "fp32", [{"name": "out"}], batch=1)
    assert contract["input"]["shape"][0] == 1
    attach_contract(path, contract)
    predictor = OnnxPredictor(path)
    batch = np.random.default_rng(0).normal(size=(3, 3, 8, 8)).astype(np.float32)
    (out,) = predictor(batch)
    with torch.no_grad():
        assert out.shape == (3, 2, 8, 8) and np.allclose(out, model(torch.from_numpy(batch)).numpy(), atol=1e-5)
