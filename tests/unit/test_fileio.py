"""A full disk or an output path that cannot be written is a user's problem to fix, not a bug: writes say so,
name the file or folder, and lose nothing."""

import errno
import os
import shutil
from collections import namedtuple

import pytest
import torch

from tao_inference import fileio
from tao_inference.status import StatusLogger
from tao_inference.errors import UserError


def test_a_full_disk_is_a_user_error_and_the_old_file_survives(tmp_path):
    target = tmp_path / "latest.pth"
    target.write_text("previous checkpoint")
    with pytest.raises(UserError, match=f"could not write {target}: no space left on the disk"):
        with fileio.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "previous checkpoint"
    assert os.listdir(tmp_path) == ["latest.pth"]  # the temp file is gone


def test_torch_save_opaque_stream_error_on_a_full_disk_is_recognised(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 << 30, 10 << 30, 4096))

    def save(payload, path):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 201600 vs 201496")

    monkeypatch.setattr(torch, "save", save)
    from tao_cv.engine.checkpoint import save_checkpoint
    from tao_inference.contract import ModelInfo

    with pytest.raises(UserError, match="no space left .* free some space and run the command again"):
        save_checkpoint(tmp_path / "best.pth", torch.nn.Linear(2, 2), ModelInfo("test", "x", ("a",), 8, 8, (0,), (1,)))
    assert not (tmp_path / "best.pth").exists()


def test_other_write_errors_are_not_blamed_on_the_disk(tmp_path):
    with pytest.raises(ValueError, match="bad value"):
        with fileio.atomic_path(tmp_path / "x.json"):
            raise ValueError("bad value")


def test_a_failure_record_that_cannot_be_written_does_not_hide_the_failure():
    status = StatusLogger("/dev/full")  # every write there fails with ENOSPC
    status.write("FAILURE", "the real error")  # does not raise
    with pytest.raises(UserError, match="could not write /dev/full: no space left"):
        status.write("RUNNING", epoch=1)


def test_a_file_in_the_way_of_an_output_folder_is_named(tmp_path):
    (tmp_path / "runs").write_text("not a folder")
    for target in (tmp_path / "runs" / "a" / "model.onnx", tmp_path / "runs" / "model.onnx"):
        with pytest.raises(UserError, match=f"cannot create the folder .*: {tmp_path / 'runs'} is a file; choose another"):
            fileio.write_text(target, "x")
    assert (tmp_path / "runs").read_text() == "not a folder"


def test_a_folder_given_as_the_output_file_is_refused_and_kept(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("kept")
    with pytest.raises(UserError, match=f"cannot write {tmp_path / 'out'}: it is a folder; give the path of a file"):
        fileio.write_json(tmp_path / "out", {})
    assert (tmp_path / "out" / "keep.txt").read_text() == "kept"


@pytest.mark.parametrize("code, expected", [
    (errno.EROFS, "cannot create the folder {folder}: Read-only file system; choose an output path you can write to"),
    (errno.EACCES, "cannot create the folder {folder}: Permission denied; choose an output path you can write to"),
    (errno.ENOSPC, "could not write {folder}: no space left on the disk"),
])
def test_a_folder_that_cannot_be_made_says_why(tmp_path, monkeypatch, code, expected):
    folder = tmp_path / "mnt" / "results"

    def refuse(self, *args, **kwargs):
        raise OSError(code, os.strerror(code), str(self))

    monkeypatch.setattr(type(folder), "mkdir", refuse)
    with pytest.raises(UserError) as error:
        fileio.make_dirs(folder)
    assert str(error.value).startswith(expected.format(folder=folder)), error.value


def test_require_folder_names_the_key_and_tells_a_file_from_a_missing_folder(tmp_path):
    (tmp_path / "photo.jpg").write_text("an image, not a folder")
    assert fileio.require_folder(tmp_path, "-i") == tmp_path
    with pytest.raises(UserError, match=f"^-i / inference.image_dir: {tmp_path / 'photo.jpg'} is a file, not a directory$"):
        fileio.require_folder(tmp_path / "photo.jpg", "-i / inference.image_dir")
    with pytest.raises(UserError, match=f"^dataset.root: directory {tmp_path / 'nope'} does not exist \\(expected"):
        fileio.require_folder(tmp_path / "nope", "dataset.root", expected=" (expected ROOT/<class>/<image>)")
