"""Checking a signed callback (Standard Webhooks): `webhook-id`, `webhook-timestamp` (Unix
seconds) and `webhook-signature` (space-separated `v1,<base64 HMAC-SHA256>` over
`<id>.<timestamp>.<body>`). The `standardwebhooks` package checks the signature; its errors do
not tell a stale timestamp from a bad signature except in their wording, so the timestamp is
judged here first, with the package's own tolerance. Any secret in force may have signed (two
while the platform rotates its secret)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway.integrations.errors import InvalidSignature, StaleTimestamp

TOLERANCE_SECONDS = 5 * 60  # the package refuses timestamps further than this from now
HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
# what platform_callbacks.webhook_id holds; printable ASCII without spaces
_ID = re.compile(r"[\x21-\x7e]{1,200}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def verify(secrets: Sequence[str], headers: Mapping[str, str], body: bytes) -> str:
    """The callback's webhook id once a secret in force is found to have signed `body`; else
    InvalidSignature (or StaleTimestamp). Never any other exception, whatever the input."""
    msg_id, timestamp, signature = (headers.get(h) for h in HEADERS)
    if not (msg_id and timestamp and signature):
        raise InvalidSignature("webhook-id, webhook-timestamp and webhook-signature are required")
    if not _ID.fullmatch(msg_id):
        raise InvalidSignature("webhook-id must be 1 to 200 printable ASCII characters")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise InvalidSignature("webhook-timestamp must be Unix seconds")
    skew = int(timestamp) - time.time()
    if abs(skew) > TOLERANCE_SECONDS:
        raise StaleTimestamp(
            f"webhook-timestamp is {abs(skew):.0f} s in the {'future' if skew > 0 else 'past'}; "
            f"at most {TOLERANCE_SECONDS} s are accepted"
        )
    signed = {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature}
    stale = False
    for secret in secrets:
        try:
            Webhook(secret).verify(body, signed, json_parse=False)
        except WebhookVerificationError as exc:
            # the clock crossed the tolerance between the check above and this one
            stale = stale or "timestamp" in str(exc)
        except Exception:  # noqa: S112 - malformed signatures raise ValueError, binascii.Error…
            continue
        else:
            return msg_id
    if stale:
        raise StaleTimestamp(f"at most {TOLERANCE_SECONDS} s are accepted")
    raise InvalidSignature("no signature matches a secret in force")
