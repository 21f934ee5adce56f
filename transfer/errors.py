"""Exceptions with user-facing messages, and the exit codes they map to.

Library code raises a ``TransferError`` subclass whose message is one sentence saying
what went wrong and how to fix it; ``transfer.cli`` prints it and exits with the code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    DIFFERENCES = 1  # verify found differing rows; plan found blockers
    FAILED = 2  # could not do the job: bad input, connection, server error
    USAGE = 64  # bad command-line usage (as in sysexits.h EX_USAGE)
    INTERRUPTED = 130  # Ctrl-C


class TransferError(Exception):
    """Something prevented the job; the message says what and how to fix it."""

    exit_code: ExitCode = ExitCode.FAILED


class SourceError(TransferError):
    """The SQLite source cannot be read."""


class TargetError(TransferError):
    """The PostgreSQL target cannot be reached or used."""


class PlanError(TransferError):
    """The migration plan cannot be built or loaded."""


class UsageError(TransferError):
    """The command line asks for something that cannot be done as written."""

    exit_code = ExitCode.USAGE


class BlockersFound(TransferError):
    """The plan has blockers: ``run`` would fail on them."""

    exit_code = ExitCode.DIFFERENCES


class ConflictError(TargetError):
    """Tables with the same names already exist in the target schema."""


class PostDataFailed(TargetError):
    """A post-data statement failed: the copied rows stay in staging, a resume (with a
    revised plan) continues."""


class DataError(TransferError):
    """A value could not be carried over; names table, column and row."""


class Interrupted(TransferError):
    """The run stopped part-way (Ctrl-C, lost connection); it can be resumed."""

    exit_code = ExitCode.INTERRUPTED
