"""Fetch pretrained weights from a local path or an http(s)/file URL into a cache, verifying sha256."""

import hashlib
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

from tao_inference.errors import UserError
from tao_inference.fileio import atomic_path


def cache_dir() -> Path:
    return Path(os.environ.get("TAO_CACHE_DIR", Path.home() / ".cache" / "tao_cv")) / "weights"


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path, sha256=None, sha256_prefix=None, source=None):
    if not (sha256 or sha256_prefix):
        return
    actual = _sha256(path)
    expected = (sha256 or sha256_prefix).lower()
    if not actual.startswith(expected):
        raise UserError(
            f"sha256 of {source or path} is {actual}, expected {expected}: the file is corrupt or not the "
            f"one meant (fix model.pretrained_sha256 or the URL)"
        )


def fetch(url_or_path: str, sha256: str | None = None, sha256_prefix: str | None = None) -> Path:
    """Return a local path for `url_or_path`: a local file as is, a URL downloaded once into the cache."""
    parsed = urlparse(url_or_path)
    if parsed.scheme in ("", "file"):
        path = Path(unquote(parsed.path) if parsed.scheme == "file" else url_or_path).expanduser()
        if not path.is_file():
            raise UserError(f"model.pretrained: file {path} does not exist")
        _verify(path, sha256, sha256_prefix, source=path)
        return path
    if parsed.scheme not in ("http", "https"):
        raise UserError(f"model.pretrained: unsupported URL scheme '{parsed.scheme}' in {url_or_path} (use http, https or file)")
    name = Path(parsed.path).name or "weights.pth"
    target = cache_dir() / hashlib.sha256(url_or_path.encode()).hexdigest()[:16] / name
    if target.is_file():
        _verify(target, sha256, sha256_prefix, source=url_or_path)
        return target
    try:
        response = requests.get(url_or_path, stream=True, timeout=30)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise UserError(f"model.pretrained: could not download {url_or_path}: {exc}") from None
    total = int(response.headers.get("content-length", 0)) or None
    with atomic_path(target) as tmp, response:
        with open(tmp, "wb") as handle, Progress(
            "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeRemainingColumn(), transient=True,
        ) as progress:
            task = progress.add_task(f"download {name}", total=total)
            for chunk in response.iter_content(chunk_size=1 << 16):
                handle.write(chunk)
                progress.advance(task, len(chunk))
        _verify(tmp, sha256, sha256_prefix, source=url_or_path)
    return target


def fetch_state_dict(url_or_path, sha256=None, sha256_prefix=None):
    """Load a state dict (or one of our checkpoints' weights) from a path or URL."""
    import torch

    path = fetch(url_or_path, sha256, sha256_prefix)
    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a broken or foreign file: say which
        raise UserError(f"model.pretrained: {path} is not a PyTorch checkpoint ({exc})") from None
    if isinstance(data, dict) and "state_dict" in data:
        return data["state_dict"]
    if isinstance(data, dict):
        return data
    if hasattr(data, "state_dict"):
        return data.state_dict()
    raise UserError(f"model.pretrained: {path} holds no state dict")


__all__ = ["cache_dir", "fetch", "fetch_state_dict"]
