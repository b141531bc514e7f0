"""Durable storage of incident trails, wake-ups and the outbox.

The store holds opaque records (JSON payloads with a type tag) and never imports the engine: the domain and
the store are the floor, the engine stands on them.
"""

from hothat.store.base import Commit, EventRecord, OutboxItem, Store, StoredEvent, WakeUp
from hothat.store.memory import MemoryStore

__all__ = ["Commit", "EventRecord", "MemoryStore", "OutboxItem", "Store", "StoredEvent", "WakeUp"]
