"""CV worker: the torch side of the toolkit. Entry point: `python -m tao_cv <task> <subcommand> args`."""

__version__ = "0.1.0"
