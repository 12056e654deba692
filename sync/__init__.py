"""Offline sync: the durable outbox, the wire protocol, the sync client and the reference hub."""
