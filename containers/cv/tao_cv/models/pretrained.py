"""Pretrained weights into a registry network: ImageNet (the backbone's own loader), a checkpoint path or a URL."""

from rich.console import Console

from tao_inference.errors import UserError
from ..download import fetch_state_dict
from .registry import get_backbone

console = Console(soft_wrap=True)


def load_pretrained(model, backbone, source, sha256=None, allow_http=False, require_sha256=False):
    """Copy every pretrained tensor whose name and shape match; the rest — a new head — starts fresh: transfer
    learning. `source`: 'imagenet', a checkpoint path or an http(s)/file URL (`model.pretrained`)."""
    if source == "imagenet":
        loader = get_backbone(backbone).imagenet_weights
        if loader is None:
            raise UserError(f"model.pretrained: imagenet — backbone '{backbone}' has no ImageNet weights "
                            "here; give a checkpoint path or URL, or null")
        state = loader()
    else:
        state = fetch_state_dict(source, sha256=sha256, allow_http=allow_http, require_sha256=require_sha256)
    own = model.state_dict()
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise UserError(f"model.pretrained: no tensor of {source} fits backbone '{backbone}' "
                        "(is it a checkpoint of the same backbone?)")
    model.load_state_dict(matched, strict=False)
    skipped = sorted(set(own) - set(matched))
    console.print(f"pretrained: loaded {len(matched)}/{len(own)} tensors from {source}"
                  + (f"; fresh: {', '.join(skipped[:4])}{' ...' if len(skipped) > 4 else ''}" if skipped else ""))
