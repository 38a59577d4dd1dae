"""One exception type for every bad input a user can give; the CLI prints it as one line."""


class A2DError(Exception):
    """A user-facing error: the message is the whole story, no traceback needed."""
