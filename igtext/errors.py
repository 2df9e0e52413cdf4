"""The error tree. Catch `IgtextError` for anything igtext raises on purpose.

`InputError` is for bad user input (task files, configs, names): the CLI prints its
one-line message and exits with status 2.
"""
from __future__ import annotations


class IgtextError(Exception):
    """Base class of every error igtext raises deliberately."""


class InputError(IgtextError):
    """Bad user input. The message names the file, line and field where known."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None, also: tuple["InputError", ...] = ()):
        """`also`: more errors found in the same input, each printed on a line of its own
        after this one (file, line and field here are the first error's)."""
        self.file, self.line, self.field, self.detail = file, line, field, message
        self.also = tuple(also)
        where = ""
        if file:
            where = f"{file}:{line}: " if line else f"{file}: "
        what = f"field '{field}': " if field else ""
        super().__init__("\n".join([f"{where}{what}{message}"] + [str(e) for e in self.also]))


class TemplateError(InputError):
    """A prompt template is unreadable or uses a placeholder it may not use."""


class ModelError(IgtextError):
    """A language model could not be loaded or could not do what was asked."""


class UnsupportedError(ModelError):
    """The backend cannot do this (e.g. it has no log-probabilities)."""


class BudgetExceeded(IgtextError):
    """A call would go past a hard budget cap; nothing was sent."""

    def __init__(self, what: str, used: float, asked: float, cap: float):
        self.what, self.used, self.asked, self.cap = what, used, asked, cap
        super().__init__(f"budget on {what} would be exceeded: used {used}, "
                         f"asked {asked} more, cap {cap}")


class RunDirError(InputError):
    """The run directory is missing, incomplete or already used."""


class APIError(ModelError):
    """A call to an OpenAI-compatible server failed (after retries, where it may be retried).

    Messages never contain the API key or the base URL.
    """


class APIConnectionError(APIError):
    """The server could not be reached, or dropped the connection."""


class APITimeoutError(APIConnectionError):
    """The server did not answer within the timeout."""


class APIStatusError(APIError):
    def __init__(self, message: str, status: int):
        self.status = status
        super().__init__(f"HTTP {status}: {message}")


class RateLimitError(APIStatusError):
    """429 after every retry."""


class ServerError(APIStatusError):
    """5xx after every retry."""


class AuthenticationError(APIStatusError):
    """401 or 403: a missing or wrong key. Not retried."""


class NotFoundError(APIStatusError):
    """404: an unknown model or endpoint. Not retried."""


class BadRequestError(APIStatusError):
    """400 or 422: the server refused the request as malformed. Not retried."""
