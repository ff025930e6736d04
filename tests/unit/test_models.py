import pytest
import torch

from tao_inference.errors import UserError
from tao_cv.models import build_classifier, get_backbone, list_backbones

REQUIRED = {"resnet18", "resnet34", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
            "efficientnet_b0", "vgg16", "efficientnet_lite0"}


def test_registry_has_the_required_backbones():
    assert REQUIRED <= set(list_backbones())
    with pytest.raises(UserError, match="not registered"):
        get_backbone("resnet19")


@pytest.mark.parametrize("name", sorted(REQUIRED - {"vgg16", "resnet50"}))
def test_each_backbone_builds_and_runs(name):
    model = build_classifier(name, 7).eval()
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 7)


def test_lite0_imagenet_weights_match_the_reference_implementation():
    reference_module = pytest.importorskip("efficientnet_lite_pytorch")
    state = get_backbone("efficientnet_lite0").imagenet_weights()
    ours = build_classifier("efficientnet_lite0", 1000).eval()
    ours.load_state_dict(state, strict=True)
    reference = reference_module.EfficientNet.from_name("efficientnet-lite0", image_size=224).eval()
    reference.load_state_dict(state)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(ours(x), reference(x), atol=1e-4)


@pytest.mark.parametrize("name", ["resnet18", "efficientnet_lite0", "mobilenet_v2"])
def test_detectors_cut_any_backbone_at_their_strides(name):
    from tao_cv.models.detectnet_v2 import DetectNetV2
    from tao_cv.models.retinanet import RetinaNetDetector
    from tao_cv.models.trunk import cut_trunk

    trunk, taps = cut_trunk(build_classifier(name, 1, 0.0), name, (8, 16, 32))
    x = torch.zeros(1, 3, 96, 128)
    for index, module in enumerate(trunk):
        x = module(x)
        if index in dict(taps):
            assert x.shape[1] == dict(taps)[index]
    assert 96 // x.shape[-2] == 32  # the trunk ends at stride 32
    coverage, bbox = DetectNetV2(name, 3).eval()(torch.zeros(1, 3, 96, 128))
    assert coverage.shape == (1, 3, 6, 8) and bbox.shape == (1, 12, 6, 8)  # stride 16
    retinanet = RetinaNetDetector(name, 3, 96, 128, fpn_channels=16).eval()
    cls_logits, regression = retinanet(torch.zeros(1, 3, 96, 128))
    # 9 anchors per cell on P3..P7 (strides 8..128) of a 96x128 input
    cells = sum((96 // s + (96 % s > 0)) * (128 // s + (128 % s > 0)) for s in (8, 16, 32, 64, 128))
    assert cls_logits.shape == (1, 9 * cells, 3) and regression.shape == (1, 9 * cells, 4)
    assert retinanet.anchors().shape == (9 * cells, 4)


def test_a_backbone_too_shallow_for_a_stride_is_a_clear_error():
    from tao_cv.models.trunk import cut_trunk

    with pytest.raises(UserError, match=r"backbone 'resnet18' declares no feature map at stride 64; it has 2, 4, 8, 16, 32"):
        cut_trunk(build_classifier("resnet18", 1, 0.0), "resnet18", (8, 64))


@pytest.mark.parametrize("name", list_backbones())
def test_each_backbone_declares_its_trunk_and_feature_maps_truly(name):
    """Run the declared trunk on an image: each declared feature map has its stride and channels and is the last
    layer at its stride (where 0.1.0 cut, so its detector checkpoints keep their layer names); the trunk ends at 32."""
    classifier, declared = build_classifier(name, 1, 0.0).eval(), get_backbone(name)
    modules = dict(classifier.named_modules())
    x, shapes = torch.zeros(1, 3, 64, 64), {}
    with torch.no_grad():
        for module_name in declared.trunk:
            x = modules[module_name](x)
            shapes[module_name] = (64 // x.shape[-1], x.shape[1])
    assert 64 // x.shape[-1] == 32
    strides = [stride for stride, _ in shapes.values()]
    for feature in declared.feature_info:
        assert shapes[feature.module] == (feature.stride, feature.channels), feature
        position = declared.trunk.index(feature.module)
        assert position == len(strides) - 1 - strides[::-1].index(feature.stride), f"{feature} is not the last at its stride"
    assert [f.stride for f in declared.feature_info] == [2, 4, 8, 16, 32]
