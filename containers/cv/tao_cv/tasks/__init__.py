"""Task modules by name: each offers `build_parser(prog)` whose subcommands set `run(args)`."""

from . import augment, classification, detectnet_v2

TASKS = {"classification": classification, "detectnet_v2": detectnet_v2, "augment": augment}
