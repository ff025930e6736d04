"""Host-side `tao` launcher: parses the command line and hands the task to a runtime.

Nothing in this package imports torch or any ML library; hosts install it alone.
"""

__version__ = "0.1.0"
