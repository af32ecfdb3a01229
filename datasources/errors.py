"""Failures that are nobody's input error: the caller answers 503 with Retry-After and the client
tries again (never a 4xx, which a producer would read as "drop this batch")."""
from __future__ import annotations


class WriterUnavailable(RuntimeError):
    """The writer cannot be reached (restarting, or not running): answer 503 with Retry-After."""

    retry_after_s = 2


class StorageUnavailable(WriterUnavailable):
    """The store cannot write (disk full, read-only or failing disk). Nothing of the refused write was
    stored; reads keep answering from what is stored, and writing resumes by itself once the disk
    takes writes again (/healthz says "degraded" with the storage problem meanwhile)."""

    retry_after_s = 10


# DuckDB reports a failed write as an IOException, or as a TransactionException whose commit could
# not write the WAL; the operating system's words tell a storage problem from anything else.
STORAGE_WORDS = ("no space left on device", "disk quota exceeded", "read-only file system",
                 "input/output error", "file too large", "could not write file", "could not fsync")  # most telling first


def storage_failure(exc: BaseException) -> StorageUnavailable | None:
    """A StorageUnavailable for an exception that comes from the disk, else None."""
    if isinstance(exc, StorageUnavailable):
        return exc
    text = str(exc).lower()
    import duckdb

    words = [w for w in STORAGE_WORDS if w in text]
    if words or isinstance(exc, (OSError, duckdb.IOException)):
        # the operating system's words only: no file names of the server in an answer to a client
        return StorageUnavailable(f"the store cannot write ({words[0] if words else type(exc).__name__})")
    return None
