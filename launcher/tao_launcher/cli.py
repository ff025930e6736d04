"""`tao` — the host CLI. `tao <task> <subcommand> [args]` (or TAO 5's `tao model <task> ...`) picks a
runtime and forwards the task's arguments untouched to the worker, returning its exit code."""

import argparse
import subprocess
import sys

from . import __version__
from .runtimes import RUNTIME_NAMES, choose_runtime
from .tasks import TASKS

TAO5_GROUPS = ("model", "dataset", "deploy")


def _overview():
    lines = [f"tao {__version__} — TAO-compatible transfer learning for computer vision", "",
             "usage: tao [--runtime {auto,local}] <task> <subcommand> [args]   (TAO 5: tao model <task> ...)",
             "       tao info | tao <task> --help | tao <task> <subcommand> --help", "", "tasks:"]
    for task in TASKS.values():
        lines.append(f"  {task.name:<16} {task.summary}")
        for sub, summary in task.subcommands.items():
            lines.append(f"      {sub:<16} {summary}")
    lines += ["", "global options:",
              "  --runtime R      auto (default) or local; TAO_DOCKER_DISABLE=1 forces local",
              "  --version        print the version",
              "", "docs: README.md and docs/architecture.md in the source tree"]
    return "\n".join(lines)


def _task_help(task):
    lines = [f"usage: tao {task.name} <subcommand> [args]", "", task.summary, "", "subcommands:"]
    lines += [f"  {sub:<16} {summary}" for sub, summary in task.subcommands.items()]
    lines += ["", f"tao {task.name} <subcommand> --help shows its flags"]
    return "\n".join(lines)


def info(runtime_name):
    runtime, reason = choose_runtime(runtime_name)
    print(f"tao {__version__}")
    print(f"runtime: {reason}")
    print(f"worker command: {' '.join(runtime.worker_command())}")
    sys.stdout.flush()
    # Devices are what the worker sees: ask it, through the same runtime that would run a task.
    result = subprocess.run([*runtime.worker_command(), "info"], capture_output=True, text=True)
    if result.returncode != 0:
        print("devices: unknown — the worker could not start:\n  " + (result.stderr.strip().splitlines() or ["?"])[-1])
        return 1
    print("worker:\n  " + "\n  ".join(result.stdout.strip().splitlines()))
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    # Global options only count before the task name; everything after it belongs to the task.
    split = next((i for i, arg in enumerate(argv) if not arg.startswith("-") and (i == 0 or argv[i - 1] != "--runtime")), len(argv))
    parser = argparse.ArgumentParser(prog="tao", add_help=False)
    parser.add_argument("--runtime", choices=RUNTIME_NAMES, default="auto")
    parser.add_argument("--version", action="store_true")
    parser.add_argument("-h", "--help", action="store_true")
    options, unknown = parser.parse_known_args(argv[:split])
    if unknown:
        print(f"error: unknown option {unknown[0]} (tao --help lists the global options)", file=sys.stderr)
        return 2
    rest = argv[split:]
    if rest and rest[0] in TAO5_GROUPS:
        rest = rest[1:]
    if options.version:
        print(f"tao {__version__}")
        return 0
    if not rest:
        print(_overview())
        return 0 if options.help else 2
    command = rest[0]
    if command == "info":
        return info(options.runtime)
    if command not in TASKS:
        print(f"error: unknown task '{command}'; tasks: {', '.join(TASKS)} (tao --help lists them)", file=sys.stderr)
        return 2
    task = TASKS[command]
    if len(rest) < 2 or rest[1] in ("-h", "--help"):
        print(_task_help(task))
        return 0 if len(rest) >= 2 else 2
    subcommand = rest[1]
    if subcommand not in task.subcommands:
        print(f"error: '{task.name}' has no subcommand '{subcommand}'; choose one of: "
              f"{', '.join(task.subcommands)}", file=sys.stderr)
        return 2
    runtime, reason = choose_runtime(options.runtime)
    return runtime.run(task.name, subcommand, rest[2:])


if __name__ == "__main__":
    sys.exit(main())
