"""Atomic output: every file is written to a temp file in the same folder, then renamed over the target,
so a crash (or kill -9) never leaves a half-written checkpoint, report or model behind."""

import contextlib
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

from .errors import UserError

# Below this many free bytes at the moment a write failed, the failure is the full disk. torch.save and other
# C++ writers report ENOSPC only as an opaque stream error ("basic_ios::clear: iostream error").
FULL_DISK_BYTES = 1 << 20


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temp path beside `path`; on success rename it to `path`, on failure remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except Exception as exc:
        raise disk_full_error(exc, path) or exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def disk_full_error(exc, path):
    """A UserError saying the disk is full, when that is why writing `path` raised `exc`; else None."""
    path = Path(path)
    full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if not full:
        try:
            full = shutil.disk_usage(path.parent).free < FULL_DISK_BYTES
        except OSError:
            return None
    if full:
        return UserError(f"could not write {path}: no space left on the disk that holds {path.parent} ({exc}); "
                         "free some space and run the command again")
    return None


def write_text(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path, data):
    write_text(path, json.dumps(data, indent=2) + "\n")
