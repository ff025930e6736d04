"""Atomic output: every file is written to a temp file in the same folder, then renamed over the target,
so a crash (or kill -9) never leaves a half-written checkpoint, report or model behind."""

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import tempfile
from pathlib import Path

from .errors import UserError

# Below this many free bytes at the moment a write failed, the failure is the full disk. torch.save and other
# C++ writers report ENOSPC only as an opaque stream error ("basic_ios::clear: iostream error").
FULL_DISK_BYTES = 1 << 20


def make_dirs(folder):
    """`mkdir -p folder`; a folder that cannot be made (a file in the way, a read-only mount, no permission) is a
    user error naming it, not a traceback."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        in_the_way = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder)
        raise UserError(f"cannot create the folder {folder}: {in_the_way} is a file; choose another output path") from None
    except OSError as exc:
        raise _refused(exc, folder, f"cannot create the folder {folder}") from None
    return folder


def require_folder(path, what, expected=""):
    """`path` as a Path when it is an existing folder; else a user error naming `what` (the flag or spec key)."""
    path = Path(path)
    if not path.is_dir():
        problem = f"{path} is a file, not a directory" if path.exists() else f"directory {path} does not exist"
        raise UserError(f"{what}: {problem}{expected}")
    return path


def read_text(path, what):
    """A text file's content; a folder, a missing or unreadable file, or bytes that are not UTF-8 are a user error
    naming the file (`what`: the flag or key that named it)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what}: {path} is a directory, not a file")
    if path.exists() and not path.is_file():
        raise UserError(f"{what}: {path} is not a regular file (a device or a pipe?); give a text file")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{what}: file {path} does not exist") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not UTF-8 text (byte {exc.start}: {exc.object[exc.start:exc.start + 1]!r}); "
                        "save the file as UTF-8") from None
    except OSError as exc:
        raise UserError(f"{what}: cannot read {path} ({exc.strerror or exc})") from None


def path_inside(folder, relative, where):
    """`folder / relative`, refused when `relative` leads out of `folder` (an absolute path, `..`): a dataset's
    entries name files of its own folder. The check is on the name as written: a file there that is a symbolic
    link to elsewhere (a dataset linked rather than copied) is the user's own choice. `where`: the file and line
    or key to name."""
    if "\x00" in str(relative):
        raise UserError(f"{where}: {str(relative)!r} holds a NUL byte; no file is named so")
    normal = os.path.normpath(str(relative))
    if os.path.isabs(normal) or normal == ".." or normal.startswith(".." + os.sep):
        raise UserError(f"{where}: '{relative}' leads outside {folder}; name files inside it (relative, no '..')")
    return Path(folder) / relative


def refuse_overwriting_inputs(outputs, inputs, flag):
    """A user error when an output path of a command is one of its inputs: writing it would destroy the input."""
    for output in map(Path, outputs):
        for source in map(Path, inputs):
            if output.resolve() == source.resolve():
                raise UserError(f"{flag} {output} is also an input of this command ({source}); writing it would "
                                "destroy the input: choose another output path")


@contextlib.contextmanager
def exclusive_run(results_dir, what):
    """Hold RESULTS_DIR/.lock (an flock, released by the kernel when the process ends, even by kill -9) while a run
    writes there: a second run into the same folder is refused, naming the first one's PID."""
    make_dirs(results_dir)
    handle = open(Path(results_dir) / ".lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise UserError(f"{results_dir} is in use by a running {what} ({holder}); wait for it to finish or stop it, "
                        "or choose another results dir") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"PID {os.getpid()} on {socket.gethostname()}")
    handle.flush()
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _refused(exc, path, what):
    """The UserError for an OSError of an operation of ours on `path` (its errno is reliable, unlike C++ writers')."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return disk_full_error(exc, path)
    return UserError(f"{what}: {exc.strerror or exc}; choose an output path you can write to")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temp path beside `path`; on success rename it to `path`, on failure remove it."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a folder; give the path of a file")
    make_dirs(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _refused(exc, path, f"cannot write {path}") from None
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
