import pytest
import torch

from tao_cv.errors import UserError
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
