"""Worker entry point: `python -m tao_cv <task> <subcommand> [args]` (what every runtime invokes),
and `python -m tao_cv info`. User mistakes end with `error: ...` and exit code 2, never a traceback."""

import contextlib
import os
import signal
import sys
import traceback
import warnings

from rich.console import Console
from rich.markup import escape

from . import __version__
from tao_inference.errors import UserError

err = Console(stderr=True, soft_wrap=True)
# Data warnings (a skipped box, ...) already name their file and line: print just that.
warnings.formatwarning = lambda message, category, *args, **kwargs: f"warning: {message}\n"


def info():
    from .engine.device import describe_devices
    from .models import list_backbones

    print(f"tao_cv worker {__version__}")
    for line in describe_devices():
        print(line)
    print(f"backbones: {', '.join(list_backbones())}")


def _user_message(exc):
    """A UserError raised in a DataLoader worker comes back wrapped with its traceback text: keep its message."""
    text = str(exc)
    if "Original Traceback" in text:
        text = text.strip().splitlines()[-1].split("UserError: ", 1)[-1]
    return text


def _stop(signum, frame):
    # Python drops an exception raised while it runs a weakref callback or __del__ ("Exception ignored in ..."), and
    # the garbage collector runs those anywhere: re-raise every half second until the task is handling it.
    signal.signal(signal.SIGALRM, _stop_unless_handled)
    signal.setitimer(signal.ITIMER_REAL, 0.5, 0.5)
    raise KeyboardInterrupt


def _stop_unless_handled(signum, frame):
    if sys.exc_info()[0] is None:  # not inside the `except` that records the FAILURE
        raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_interrupts():
    """While the task runs, SIGTERM (a scheduler, `kill`, torchrun stopping the ranks after one failed) ends it
    like Ctrl-C: the task records FAILURE and exits 130. Before and after (importing, reporting an error) the
    default action, ending at once, is right: a KeyboardInterrupt there would be a traceback, not a report."""
    signal.signal(signal.SIGTERM, _stop)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


TRUST_FLAG = "--trust_checkpoint"  # any subcommand: load checkpoints that need unpickling code (engine/checkpoint.py)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if TRUST_FLAG in argv:  # an environment variable, so that torchrun's processes inherit it
        argv = [a for a in argv if a != TRUST_FLAG]
        os.environ["TAO_TRUST_CHECKPOINTS"] = "1"
    from .tasks import TASKS, build_parser

    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: python -m tao_cv {{info,{','.join(TASKS)}}} SUBCOMMAND [args]")
        return 0
    if argv[0] == "info":
        info()
        return 0
    if argv[0] not in TASKS:
        err.print(f"error: unknown task '{argv[0]}'; available: {', '.join(TASKS)}")
        return 2
    from tao_inference.commands import parse_task_args

    args = parse_task_args(build_parser(argv[0], prog=f"tao {argv[0]}"), argv[1:])
    from .engine import distributed

    worker = distributed.in_worker_process()  # one of several processes torchrun started: the launcher reports
    distributed.quiet_other_ranks()
    try:
        with _sigterm_interrupts():
            if hasattr(args, "nproc_per_node"):  # subcommands that can run on several GPUs/nodes (train)
                run = distributed.plan(args)
                if run is not None:
                    return distributed.launch(run, argv)
            args.run(args)
            distributed.close(synchronize=True)
    except UserError as exc:
        message = _user_message(exc)
        distributed.record_error(message)
        if not worker:
            err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
        return 2
    except KeyboardInterrupt:
        if not worker:
            err.print("interrupted")
        return 130
    except Exception as exc:
        if worker and distributed.lost_peer(exc):  # another rank failed first: the launcher reports that one
            distributed.record_error((str(exc).strip().splitlines() or [type(exc).__name__])[0][:300])
            return distributed.LOST_PEER_EXIT
        traceback.print_exc()
        distributed.record_error(f"internal error {type(exc).__name__}: {exc} (traceback above)")
        err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))} — this is a bug; please "
                  "report it with the command and the lines above")
        return 1
    finally:
        distributed.close()
    return 0


if __name__ == "__main__":
    code = main()
    distributed = sys.modules.get("tao_cv.engine.distributed")  # loaded by every task (not by --help)
    if distributed:
        distributed.exit_process(code)
    sys.exit(code)
