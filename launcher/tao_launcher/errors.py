"""Launcher errors a user can fix: the CLI prints `error: <message>` and exits 2, never a traceback."""


class LauncherError(Exception):
    pass
