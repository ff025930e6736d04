"""Offline augmentation of a KITTI dataset (TAO's `augment`): every image gets the configured spatial transform
(rotation, shear, flip, translation — one affine map applied to pixels and boxes alike), colour changes (hue,
saturation, contrast, brightness) and blur; boxes follow the map.

A rotated box's corners overstate the object; with `refine_box` the box is that of the ellipse inscribed in the
original box after the map (objects are rounder than their boxes), which is tight for round objects and exact
for 90° steps.
"""

import math

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as F

from tao_inference.data.kitti import KittiObject


def affine_matrix(width, height, angle=0.0, shear_x=0.0, shear_y=0.0, flip_horizontal=False, flip_vertical=False,
                  translate_x=0.0, translate_y=0.0):
    """3x3 map from source to output pixel coordinates: about the image centre, flip, then shear, then rotate by
    `angle` degrees (counter-clockwise, as seen), then translate by (translate_x, translate_y) pixels."""
    cx, cy = width / 2, height / 2
    to_centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], float)
    flip = np.diag([-1.0 if flip_horizontal else 1.0, -1.0 if flip_vertical else 1.0, 1.0])
    shear = np.array([[1, shear_x, 0], [shear_y, 1, 0], [0, 0, 1]], float)
    theta = math.radians(angle)
    rotate = np.array([[math.cos(theta), math.sin(theta), 0], [-math.sin(theta), math.cos(theta), 0], [0, 0, 1]])
    back = np.array([[1, 0, cx + translate_x], [0, 1, cy + translate_y], [0, 0, 1]], float)
    return back @ rotate @ shear @ flip @ to_centre


def transform_box(box, matrix, refine=False, points=72):
    """Box of the mapped box corners, or (refine) of the mapped inscribed ellipse."""
    x1, y1, x2, y2 = box
    if refine:
        t = np.linspace(0, 2 * math.pi, points, endpoint=False)
        xs, ys = (x1 + x2) / 2 + (x2 - x1) / 2 * np.cos(t), (y1 + y2) / 2 + (y2 - y1) / 2 * np.sin(t)
    else:
        xs, ys = np.array([x1, x2, x2, x1]), np.array([y1, y1, y2, y2])
    mapped = matrix @ np.stack([xs, ys, np.ones_like(xs)])
    return mapped[0].min(), mapped[1].min(), mapped[0].max(), mapped[1].max()


def augment_image(image, objects, spec):
    """(image, objects) after the spec's spatial, colour and blur steps; boxes leaving the image are clipped,
    boxes that vanish (under 1 pixel) are dropped."""
    s, c = spec.spatial, spec.color
    matrix = affine_matrix(image.width, image.height, s.rotation.angle, s.shear.shear_ratio_x, s.shear.shear_ratio_y,
                           s.flip.horizontal, s.flip.vertical, s.translation.translate_x, s.translation.translate_y)
    inverse = np.linalg.inv(matrix)
    image = image.transform(image.size, Image.AFFINE, tuple(inverse[:2].flatten()), resample=Image.BILINEAR)
    kept = []
    for obj in objects:
        x1, y1, x2, y2 = transform_box(obj.box, matrix, s.rotation.refine_box)
        x1, x2 = (min(max(v, 0.0), image.width) for v in (x1, x2))
        y1, y2 = (min(max(v, 0.0), image.height) for v in (y1, y2))
        if x2 - x1 >= 1 and y2 - y1 >= 1:
            kept.append(KittiObject(obj.name, x1, y1, x2, y2, obj.truncated, obj.occluded))
    tensor = F.pil_to_tensor(image)
    if c.hue_saturation.hue_rotation_angle:
        tensor = F.adjust_hue(tensor, ((c.hue_saturation.hue_rotation_angle + 180) % 360 - 180) / 360)
    if c.hue_saturation.saturation_shift != 1.0:
        tensor = F.adjust_saturation(tensor, c.hue_saturation.saturation_shift)
    values = tensor.float()
    if c.contrast.contrast:
        values = (values - c.contrast.center) * (1 + c.contrast.contrast) + c.contrast.center
    if c.brightness.offset:
        values = values + c.brightness.offset
    tensor = values.clamp(0, 255).to(torch.uint8)
    if spec.blur.size > 1 and spec.blur.std > 0:
        tensor = F.gaussian_blur(tensor, [spec.blur.size | 1] * 2, [spec.blur.std] * 2)  # odd kernel
    return F.to_pil_image(tensor), kept
