"""A full disk is a user's problem to fix, not a bug: writes say so, name the file, and lose nothing."""

import errno
import os
import shutil
from collections import namedtuple

import pytest
import torch

from tao_cv import fileio
from tao_cv.engine.logs import StatusLogger
from tao_cv.errors import UserError


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

    with pytest.raises(UserError, match="no space left .* free some space and run the command again"):
        save_checkpoint(tmp_path / "best.pth", torch.nn.Linear(2, 2), {"backbone": "x"})
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
