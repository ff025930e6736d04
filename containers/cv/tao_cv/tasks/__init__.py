"""Task modules by name: each offers `build_parser(prog)` whose subcommands set `run(args)`."""

from . import classification

TASKS = {"classification": classification}
