"""Teams delivers a message again, with the same activity id, when the bot did not answer it within about 15 s.
Only the first delivery is handled, on whichever replica it lands: a SET NX in the shared Redis."""

from __future__ import annotations

from redis.asyncio import Redis

# Teams' retries come within seconds; this only has to outlast them.
DELIVERY_TTL_SECONDS = 15 * 60


async def first_delivery(redis: Redis, conversation_id: str, activity_id: str) -> bool:
    """True the first time this message is seen (message ids are unique within their conversation)."""
    if not activity_id:
        return True  # nothing to recognise a repeat by
    key = f"riposte:delivery:{conversation_id}:{activity_id}"
    return bool(await redis.set(key, "1", nx=True, ex=DELIVERY_TTL_SECONDS))
