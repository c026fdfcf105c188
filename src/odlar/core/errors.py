"""One error hierarchy, mapped once to CLI exit codes and HTTP statuses.

A user mistake is an OdlarError with one clear line; anything else is a bug.
"""

from __future__ import annotations


class OdlarError(Exception):
    """Base of every error a user can cause or fix."""

    exit_code: int = 1
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(OdlarError):
    """A bad option or argument: the request itself is malformed."""

    exit_code = 2
    http_status = 400


class DataError(OdlarError):
    """Input data that cannot be used: says which file, line and field, and what is wrong."""

    exit_code = 65  # EX_DATAERR
    http_status = 422

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file, self.line, self.field, self.reason = file, line, field, reason
        where = ""
        if file:
            where = f"{file}:{line}" if line is not None else str(file)
        if field:
            where = f"{where}: column '{field}'" if where else f"field '{field}'"
        super().__init__(f"{where}: {reason}" if where else reason)


class NotFound(OdlarError):
    exit_code = 66  # EX_NOINPUT
    http_status = 404


class Unauthorized(OdlarError):
    exit_code = 77  # EX_NOPERM
    http_status = 401


class Forbidden(OdlarError):
    exit_code = 77
    http_status = 403


class Conflict(OdlarError):
    exit_code = 75  # EX_TEMPFAIL: retry when the conflicting state is gone
    http_status = 409


class Unavailable(OdlarError):
    """Something outside odlar is unreachable, e.g. a dataset publisher while offline."""

    exit_code = 69  # EX_UNAVAILABLE
    http_status = 503


class TooLarge(OdlarError):
    """An upload or request over a configured size limit."""

    exit_code = 65  # EX_DATAERR: the input itself is refused
    http_status = 413


class TooManyRequests(OdlarError):
    exit_code = 75  # EX_TEMPFAIL: try again later
    http_status = 429

    def __init__(self, message: str, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after
