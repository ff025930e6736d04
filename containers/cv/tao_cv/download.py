"""Fetch pretrained weights from a local path or an http(s)/file URL into a cache, verifying sha256.

A user's sha256 (`model.pretrained_sha256`) is the whole 64-digit digest and is compared in full; a URL with no
known digest is downloaded with a warning, or refused under `model.pretrained_require_sha256`; plain http is
refused unless `model.pretrained_allow_http` says so (anything on the way can replace the file)."""

import hashlib
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

from tao_inference.errors import UserError
from tao_inference.fileio import atomic_path

console = Console(stderr=True, soft_wrap=True)


def cache_dir() -> Path:
    return Path(os.environ.get("TAO_CACHE_DIR", Path.home() / ".cache" / "tao_cv")) / "weights"


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(sha256):
    """The user's digest, lower-case; anything but 64 hex digits is refused (a prefix or '' would weaken the check)."""
    if sha256 is None:
        return None
    if not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise UserError(f"model.pretrained_sha256: '{sha256}' is not a sha256 digest; give all 64 hex digits, as "
                        "`sha256sum FILE` prints them (or null for no check)")
    return sha256.lower()


def _verify(path, sha256=None, sha256_prefix=None, source=None):
    """`sha256`: the full digest; `sha256_prefix`: the leading digits a registry publishes in its file names
    (torchvision's)."""
    if not (sha256 or sha256_prefix):
        return
    actual = _sha256(path)
    expected = (sha256 or sha256_prefix).lower()
    if not (actual == expected if sha256 else actual.startswith(expected)):
        raise UserError(
            f"sha256 of {source or path} is {actual}, expected {expected}: the file is corrupt or not the "
            f"one meant (fix model.pretrained_sha256 or the URL)"
        )


def fetch(url_or_path: str, sha256: str | None = None, sha256_prefix: str | None = None, *, allow_http=False,
          require_sha256=False) -> Path:
    """Return a local path for `url_or_path`: a local file as is, a URL downloaded once into the cache."""
    sha256 = check_sha256(sha256)
    parsed = urlparse(url_or_path)
    if parsed.scheme in ("", "file"):
        path = Path(unquote(parsed.path) if parsed.scheme == "file" else url_or_path).expanduser()
        if not path.is_file():
            raise UserError(f"model.pretrained: file {path} does not exist")
        _verify(path, sha256, sha256_prefix, source=path)
        return path
    if parsed.scheme not in ("http", "https"):
        raise UserError(f"model.pretrained: unsupported URL scheme '{parsed.scheme}' in {url_or_path} (use http, https or file)")
    if parsed.scheme == "http" and not allow_http:
        raise UserError(f"model.pretrained: {url_or_path} is plain http, which anything on the way can alter; use "
                        "https, or set model.pretrained_allow_http: true (with model.pretrained_sha256) if you must")
    if not (sha256 or sha256_prefix):
        if require_sha256:
            raise UserError(f"model.pretrained: {url_or_path} has no sha256 to check it against and "
                            "model.pretrained_require_sha256 is set: add model.pretrained_sha256")
        console.print(f"[yellow]warning:[/] {url_or_path} is downloaded with no sha256 to check it against; set "
                      "model.pretrained_sha256 to be sure it is the file you mean")
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


def fetch_state_dict(url_or_path, sha256=None, sha256_prefix=None, **fetch_options):
    """Load a state dict (or one of our checkpoints' weights) from a path or URL, running no code from the file."""
    from .engine.checkpoint import load_without_code

    path = fetch(url_or_path, sha256, sha256_prefix, **fetch_options)
    data = load_without_code(path, "model.pretrained")
    if isinstance(data, dict) and "state_dict" in data:
        return data["state_dict"]
    if isinstance(data, dict):
        return data
    if hasattr(data, "state_dict"):
        return data.state_dict()
    raise UserError(f"model.pretrained: {path} holds no state dict")


__all__ = ["cache_dir", "fetch", "fetch_state_dict"]
