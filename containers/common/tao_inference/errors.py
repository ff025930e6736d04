"""The one exception type for mistakes a user can fix; the entry point prints it without a traceback."""


class UserError(Exception):
    """Bad input: a spec key, a path, a flag. The message must say what is wrong and how to fix it."""
