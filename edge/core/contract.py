"""The till <-> hub contract: every name and rule both sides must agree on, in one place.

What lives here (and nowhere else):
- ``EventType``: the outbox event types a device pushes (``docs/sync-protocol.md``, "Events").
- ``ChangeKind``: the kinds of change the hub's pull stream carries (``docs/sync-protocol.md``, "Changes").

Both enums are ``StrEnum``: a member *is* its wire string (``EventType.SALE_COMPLETED == "sale.completed"``),
so JSON encoding and SQL parameters need no conversion. This module is pure (``edge.core``): the till, the
sync client and the hub all import it; it imports nothing from them.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """Outbox event types pushed by a device to the hub (``POST /v1/events``)."""

    SALE_COMPLETED = "sale.completed"
    LEDGER_EARN = "ledger.earn"
    LEDGER_BURN = "ledger.burn"
    COUPON_REDEEMED = "coupon.redeemed"
    FEEDBACK_SUBMITTED = "feedback.submitted"
    LOYALTY_TOKEN_SEEN = "loyalty.token_seen"
    PRESENCE_VISIT = "presence.visit"
    PRESENCE_NOTIFICATION_REQUESTED = "presence.notification_requested"
    PRESENCE_ANONYMOUS_COUNT = "presence.anonymous_count"
    PRESENCE_ANALYTICS = "presence.analytics"


LEDGER_EVENTS = frozenset({EventType.LEDGER_EARN, EventType.LEDGER_BURN})


class ChangeKind(StrEnum):
    """Kinds of change carried by the hub's pull stream (``GET /v1/changes``)."""

    PRODUCT = "product"
    OFFER = "offer"
    COUPON = "coupon"
    CUSTOMER = "customer"
    SIGNING_KEY = "signing_key"
    REVOCATION = "revocation"
    PRESENCE_IDENTITY = "presence_identity"
    STORE_BEACON = "store_beacon"
    PRESENCE_RULE = "presence_rule"
    SIGHTING = "sighting"
    TOKEN_SIGHTING = "token_sighting"
