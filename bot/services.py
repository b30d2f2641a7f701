"""Everything a request handler needs, built once per process from Settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis

from actions.errors import RiposteError
from actions.runner import ActionRunner
from actions.spec import Tenant
from bot.access.policy import Policy
from bot.access.roles import RoleResolver
from bot.access.signing import ButtonSigner
from bot.audit.trail import RedisAudit
from bot.cards.views import CardPainter
from bot.clicks.answered import Turn
from bot.config import Settings
from bot.metrics import Metrics
from bot.pipeline.limiter import Priority, TeamsLimiter
from bot.pipeline.queues import Queues
from bot.run.inflight import InFlight
from bot.state.approvals import ApprovalStore
from bot.state.cases import CaseStore

Card = dict[str, Any]
# A card drawn when its send slot is granted, not before: an update that waited for Teams' send limits must not
# replace a newer card with the state it was drawn from (bot/pipeline/jobs.py run_refresh_card).
CardSource = Callable[[], Awaitable[Card]]


class ChannelBlocked(RiposteError):
    """Teams refuses every message from the bot in this conversation (removed, blocked, disabled, gone):
    retrying cannot help until someone acts."""


class Channel(Protocol):
    """Where cards go: Teams through the Bot Connector (bot/teams/adapter.py)."""

    async def post_thread(self, channel_id: str, card: Card | CardSource, service_url: str,
                          priority: Priority = Priority.BULK) -> tuple[dict[str, Any], str]:
        """Start a new thread with `card`; return the thread's conversation reference and the message id. A
        CardSource is drawn once the send slot is taken (a storm's post can wait seconds for it)."""
        ...

    async def reply(self, reference: dict[str, Any], card: Card | str,
                    priority: Priority = Priority.INTERACTIVE) -> str:
        """Post `card` (or plain text) into the conversation of `reference` (a channel message's thread); return
        the new message id."""
        ...

    async def update_card(self, reference: dict[str, Any], activity_id: str, card: Card | CardSource,
                          priority: Priority = Priority.INTERACTIVE, turn: Turn | None = None) -> None:
        """Replace the message `activity_id` with `card`; a CardSource is drawn once the send slot is taken (and
        again for each retry), so what is sent is the state at sending, however long the wait for the slot.
        `turn`: the click whose answer waits for this update (it gets only what the answer can spare)."""
        ...


@dataclass
class Services:
    settings: Settings
    redis: Redis
    tenant: Tenant
    channel: Channel
    cases: CaseStore
    audit: RedisAudit
    roles: RoleResolver
    runner: ActionRunner
    inflight: InFlight
    signer: ButtonSigner
    policy: Policy
    painter: CardPainter
    approvals: ApprovalStore
    metrics: Metrics
    queues: Queues
    limiter: TeamsLimiter
