"""Kept for importers of the former module: the final read lives in :mod:`harness.final_read`."""

from ackguard.harness.final_read import (
    BATCH_ROWS,
    final_read_from_records,
    final_record,
    read_database,
)

__all__ = ["BATCH_ROWS", "final_read_from_records", "final_record", "read_database"]
