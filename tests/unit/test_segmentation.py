"""UNet's data and metrics: label ids through the class config (several ids to one class, 0/255 binary masks,
unmapped ids), masks that move with their images, TAO's metrics from a confusion matrix, and the UNet itself."""

import numpy as np
import pytest
import torch
from PIL import Image

from tao_inference.data.segmentation_masks import check_pairs, class_map, read_mask, split_pairs
from tao_inference.errors import UserError
from tao_inference.spec.schemas import DataClassSpec, SegmentationAugmentationSpec, SegmentationDatasetSpec, TargetClassSpec
from tao_inference.tasks.segmentation import confusion, segmentation_metrics


def config(*targets, unmapped="error"):
    return DataClassSpec([TargetClassSpec(*t) for t in targets], unmapped)


def save_mask(path, values):
    Image.fromarray(np.asarray(values, dtype=np.uint8), mode="L").save(path)
    return path


def test_label_ids_map_to_classes_several_to_one(tmp_path):
    classes = class_map(config(("background", 0), ("car", 7), ("van", 9, "car", 2.0), ("person", 3)))
    assert classes.names == ("background", "person", "car") and classes.weights == (1.0, 1.0, 1.0)
    mask = save_mask(tmp_path / "m.png", [[0, 7, 9], [3, 3, 0]])
    assert read_mask(mask, classes).tolist() == [[0, 2, 2], [1, 1, 0]]
    save_mask(tmp_path / "bad.png", [[0, 5]])
    with pytest.raises(UserError, match=r"bad.png: mask value 5 is no target class.s label_id .*unmapped_label_ids: "
                                        r"background"):
        read_mask(tmp_path / "bad.png", classes)
    background = class_map(config(("background", 0), ("car", 7), unmapped="background"))
    assert read_mask(tmp_path / "bad.png", background).tolist() == [[0, 0]]
    with pytest.raises(UserError, match="label_id 7 is given twice"):
        class_map(config(("a", 7), ("b", 7)))
    with pytest.raises(UserError, match="target_classes is empty"):
        class_map(config())


def test_binary_masks_are_divided_by_255_as_tao_reads_them(tmp_path):
    classes = class_map(config(("membrane", 0), ("cell", 1)))
    assert read_mask(save_mask(tmp_path / "m.png", [[0, 255], [255, 0]]), classes).tolist() == [[0, 1], [1, 0]]
    rgb = tmp_path / "rgb.png"
    Image.new("RGB", (2, 2)).save(rgb)
    with pytest.raises(UserError, match="rgb.png: a mask must be a single-channel PNG"):
        read_mask(rgb, classes)


def test_pairs_are_matched_by_stem_and_checked(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for name in ("a", "b"):
        Image.new("RGB", (4, 3)).save(tmp_path / "images" / f"{name}.jpg")
    save_mask(tmp_path / "masks" / "a.png", np.ones((3, 4)))
    spec = SegmentationDatasetSpec(train_images_path=str(tmp_path / "images"), train_masks_path=str(tmp_path / "masks"))
    with pytest.raises(UserError, match=r"train_masks_path: no mask b.png for .*b.jpg \(1 image\(s\) without one"):
        split_pairs(spec, "train")
    save_mask(tmp_path / "masks" / "b.png", np.ones((4, 4)))
    classes = class_map(config(("bg", 0), ("fg", 1)))
    with pytest.raises(UserError, match=r"b.png: the mask is 4x4, its image .*b.jpg is 4x3"):
        check_pairs(split_pairs(spec, "train"), classes)
    save_mask(tmp_path / "masks" / "b.png", np.zeros((3, 4)))
    assert check_pairs(split_pairs(spec, "train"), classes).tolist() == [12, 12]


def test_metrics_from_the_confusion_matrix():
    truth = np.array([[0, 0, 1, 1], [0, 0, 2, 2]])
    predicted = np.array([[0, 1, 1, 1], [0, 0, 2, 0]])
    matrix = confusion(predicted, truth, 3)
    assert matrix.tolist() == [[3, 1, 0], [0, 2, 0], [1, 0, 1]]
    metrics = segmentation_metrics(matrix, ["bg", "a", "b"])
    rows = {r["class"]: r for r in metrics["per_class"]}
    assert rows["bg"]["iou"] == pytest.approx(3 / 5) and rows["a"]["iou"] == pytest.approx(2 / 3)
    assert rows["b"]["iou"] == pytest.approx(1 / 2) and rows["b"]["precision"] == 1.0 and rows["b"]["recall"] == 0.5
    assert metrics["mIoU"] == pytest.approx((3 / 5 + 2 / 3 + 1 / 2) / 3)
    assert metrics["fwIoU"] == pytest.approx(4 / 8 * 3 / 5 + 2 / 8 * 2 / 3 + 2 / 8 * 1 / 2)
    assert metrics["pixel_accuracy"] == pytest.approx(6 / 8)
    # a class absent from both truth and prediction does not count in the mean
    assert segmentation_metrics(np.array([[4, 0], [0, 0]]), ["bg", "x"])["mIoU"] == 1.0


def test_geometric_augmentation_moves_the_mask_with_the_image_and_colour_does_not_touch_it():
    from torchvision import tv_tensors

    from tao_cv.data.segmentation import segmentation_transform

    aug = SegmentationAugmentationSpec(horizontal_flip=1.0, vertical_flip=1.0, rotation_degrees=0.0,
                                       crop_and_resize_prob=0.0, brightness=0.5, contrast=0.5, saturation=0.5)
    transform = segmentation_transform(8, 8, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), aug)
    image = torch.zeros(3, 16, 16, dtype=torch.uint8)
    image[:, :8, :8] = 255  # a bright top-left quarter ...
    mask = torch.zeros(1, 16, 16, dtype=torch.int64)
    mask[0, :8, :8] = 3  # ... labelled 3
    out_image, out_mask = transform(tv_tensors.Image(image), tv_tensors.Mask(mask))
    assert out_mask.shape == (1, 8, 8) and set(out_mask.unique().tolist()) == {0, 3}  # nearest: no new ids
    assert out_mask[0, 4:, 4:].eq(3).all() and out_mask[0, :4, :].eq(0).all()  # both flips: bottom-right now
    assert out_image[:, 4:, 4:].mean() > out_image[:, :4, :4].mean()


@pytest.mark.parametrize("backbone", ["resnet18", "mobilenet_v2", "vanilla_unet"])
def test_unet_outputs_class_logits_at_the_input_size(backbone):
    from tao_cv.models.unet import UNet

    model = UNet(backbone, 4).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 64, 96)).shape == (2, 4, 64, 96)
        assert model(torch.zeros(1, 3, 50, 70)).shape == (1, 4, 50, 70)  # sizes not divisible by 32


def test_list_file_sources_pair_line_n_with_line_n(tmp_path):
    from tao_inference.spec.schemas import SegmentationSourceSpec

    for name in ("a", "b"):
        Image.new("RGB", (4, 4)).save(tmp_path / f"{name}.jpg")
        save_mask(tmp_path / f"{name}_mask.png", np.zeros((4, 4)))
    (tmp_path / "images.txt").write_text("a.jpg\nb.jpg\n")
    (tmp_path / "masks.txt").write_text("# masks, in the images' order\na_mask.png\nb_mask.png\n")
    source = SegmentationSourceSpec(str(tmp_path / "images.txt"), str(tmp_path / "masks.txt"))
    spec = SegmentationDatasetSpec(train_data_sources=[source], train_images_path="/ignored/when/lists/are/given")
    assert split_pairs(spec, "train") == [(tmp_path / "a.jpg", tmp_path / "a_mask.png"),
                                          (tmp_path / "b.jpg", tmp_path / "b_mask.png")]
    (tmp_path / "masks.txt").write_text("a_mask.png\n")
    with pytest.raises(UserError, match=r"dataset.train_data_sources\[0\]: .*images.txt lists 2 images but .*masks.txt 1"):
        split_pairs(spec, "train")
