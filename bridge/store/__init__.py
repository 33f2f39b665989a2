"""The bridge's state in SQL: watermarks, links, outbox, dead letters, audit."""

from bridge.store.db import Store, open_store

__all__ = ["Store", "open_store"]
