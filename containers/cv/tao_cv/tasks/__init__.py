"""Task modules by name: each offers `build_parser(prog)` whose subcommands set `run(args)`."""

from . import augment, classification, detectnet_v2, retinanet

TASKS = {"classification": classification, "detectnet_v2": detectnet_v2, "retinanet": retinanet,
         "augment": augment}
