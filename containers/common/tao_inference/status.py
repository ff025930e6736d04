"""status.json: TAO's JSON-lines record of a run (STARTED, RUNNING with KPIs, SUCCESS / FAILURE with the message),
written for every subcommand of every task by `run_status` alone. In a multi-process run only rank 0 writes."""

import contextlib
import datetime
import json
import os
from pathlib import Path

from .errors import UserError
from .fileio import disk_full_error, make_dirs


def is_main_process():
    return int(os.environ.get("RANK", "0")) == 0


class StatusLogger:
    def __init__(self, path):
        self.path = Path(path)
        self.kpi = {}  # what the finished run reports with SUCCESS
        if is_main_process():
            make_dirs(self.path.parent)

    def write(self, status, message="", **fields):
        if not is_main_process():
            return
        now = datetime.datetime.now()
        record = {"date": now.strftime("%-m/%-d/%Y"), "time": now.strftime("%H:%M:%S"), "status": status,
                  "verbosity": "INFO", "message": message, **fields}
        try:
            with open(self.path, "a") as handle:
                handle.write(json.dumps(record) + "\n")
                handle.flush()
        except OSError as exc:
            if status != "FAILURE":  # recording a failure must not hide it (the disk may be full): it is printed
                raise disk_full_error(exc, self.path) or exc


def failure_message(exc):
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, UserError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


@contextlib.contextmanager
def run_status(results_dir, action):
    """STARTED before the body, SUCCESS after it, FAILURE (with the message) when it raises anything — a user
    error, Ctrl-C or a bug. The body gets the logger, for its RUNNING records and the `kpi` SUCCESS carries."""
    status = StatusLogger(Path(results_dir) / "status.json")
    status.write("STARTED", f"Starting {action}")
    try:
        yield status
    except BaseException as exc:
        status.write("FAILURE", failure_message(exc))
        raise
    status.write("SUCCESS", f"{action.capitalize()} finished successfully", **({"kpi": status.kpi} if status.kpi else {}))
