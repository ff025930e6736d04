"""Offline augmentation: the affine map moves known boxes exactly, and boxes stay on their objects."""

import numpy as np
import pytest
from PIL import Image

from tao_cv.data.augment import affine_matrix, augment_image, transform_box
from tao_inference.data.kitti import KittiObject
from tao_inference.spec.schemas import AugmentSpec


def test_flip_and_quarter_turn_move_a_known_box_exactly():
    flip = affine_matrix(100, 80, flip_horizontal=True)
    assert np.allclose(transform_box((10, 12, 40, 30), flip), (60, 12, 90, 30))
    quarter = affine_matrix(100, 100, angle=90)  # counter-clockwise as seen: the top-left corner goes bottom-left
    for refine in (False, True):
        assert np.allclose(transform_box((10, 20, 30, 60), quarter, refine), (20, 70, 60, 90), atol=0.05)


def test_refinement_is_tighter_than_rotated_corners():
    matrix = affine_matrix(200, 200, angle=45)
    loose, tight = transform_box((50, 50, 150, 150), matrix), transform_box((50, 50, 150, 150), matrix, refine=True)
    assert loose[2] - loose[0] == pytest.approx(100 * np.sqrt(2), rel=1e-6)
    assert tight[2] - tight[0] == pytest.approx(100, rel=1e-3)  # a circle's box does not grow when it turns


@pytest.mark.parametrize("angle, shear, translate", [(30, 0.0, 0), (-15, 0.2, 7), (0, 0.3, -5)])
def test_augmented_boxes_stay_on_their_objects(angle, shear, translate):
    array = np.zeros((120, 160, 3), np.uint8)
    array[40:70, 50:100] = 255
    spec = AugmentSpec()
    spec.spatial.rotation.angle, spec.spatial.rotation.refine_box = angle, False
    spec.spatial.shear.shear_ratio_x, spec.spatial.translation.translate_x = shear, translate
    spec.spatial.flip.horizontal = True
    image, (obj,) = augment_image(Image.fromarray(array), [KittiObject("box", 50, 40, 100, 70)], spec)
    ys, xs = np.nonzero(np.asarray(image).mean(2) > 127)
    assert np.allclose(obj.box, (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), atol=1.5)


def test_colour_steps_and_boxes_leaving_the_image():
    spec = AugmentSpec()
    spec.color.brightness.offset = 20
    spec.color.contrast.contrast = 1.0
    spec.spatial.translation.translate_x = 150
    image, kept = augment_image(Image.new("RGB", (100, 50), (100, 100, 100)),
                                [KittiObject("a", 10, 10, 20, 20), KittiObject("b", 0, 0, 80, 40)], spec)
    # (100 - 127.5) * 2 + 127.5 + 20 = 92.5 inside the translated area; boxes pushed out of the image are dropped
    assert [o.name for o in kept] == [] and image.getpixel((0, 25)) == (0, 0, 0)
    spec.spatial.translation.translate_x = 0
    image, kept = augment_image(Image.new("RGB", (100, 50), (100, 100, 100)), [KittiObject("a", 10, 10, 20, 20)], spec)
    assert image.getpixel((50, 25)) in ((92, 92, 92), (93, 93, 93)) and len(kept) == 1


def test_augment_refuses_to_write_over_its_source(tmp_path):
    from conftest import run_tao

    images, labels = tmp_path / "data" / "images", tmp_path / "data" / "labels"
    images.mkdir(parents=True)
    labels.mkdir()
    spec = tmp_path / "aug.yaml"
    spec.write_text(f"dataset: {{image_dir: {images}, label_dir: {labels}}}\n")
    result = run_tao("augment", "-e", spec, "-o", tmp_path / "data", check=False)
    assert result.returncode == 2 and "is also an input of this command" in result.stdout, result.stdout
