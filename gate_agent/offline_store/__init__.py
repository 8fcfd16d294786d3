"""The gate's offline store (SQLite, WAL, synchronous=FULL): the only writer of gate.db."""

from .store import (
    SCHEMA_VERSION,
    NewScan,
    OfflineStore,
    ScanRecord,
    StoreError,
)

__all__ = ["SCHEMA_VERSION", "NewScan", "OfflineStore", "ScanRecord", "StoreError"]
