"""`status <user>` when the user already has a case: the same containment read as that case's card (contained /
partly contained / reverted / released, with the time of the last check) in a short card that points at the case's
thread, instead of a new "Status of …" case every time.

Which case: the case whose containment is being watched; else the user's open case (the intake's grouping pointer
`riposte:open-case:{user}`, set while further alerts about the user would join it); else the case of a watch that
was released or ended. None of these: the caller opens a status case as before.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from actions import ACTIONS
from actions.spec import TargetUser
from bot.cards.alert_card import STATE_ICON, STATE_WORD
from bot.cards.elements import Card, when
from bot.cards.status_card import user_status_card
from bot.services import Services
from bot.state.cases import Case
from bot.state.states import WatchState
from bot.watch.store import Watch, WatchStore
from bot.watch.view import watch_view

TEAMS_MESSAGE_LINK = "https://teams.microsoft.com/l/message/"


def _open_case_keys(target: TargetUser) -> list[str]:
    """The intake keys the pointer by the alert's `user` as sent: an object id, a UPN or a mail address."""
    names = dict.fromkeys(name.lower() for name in (target.id, target.upn, target.mail) if name)
    return [f"riposte:open-case:{name}" for name in names]


async def case_of_user(services: Services, target: TargetUser) -> tuple[Case, Watch | None] | None:
    """The user's current case and its watch (None: the case started none), or None when there is no case."""
    watch = await WatchStore(services.redis).get(target.id)
    if watch is not None and watch.state == WatchState.WATCHING:
        case = await services.cases.get(watch.case_id)
        if case is not None:
            return case, watch
    for open_id in await services.redis.mget(_open_case_keys(target)):
        if not open_id:
            continue
        case = await services.cases.get(str(open_id))
        if case is not None and case.target is not None and case.target.id == target.id:
            return case, watch if watch is not None and watch.case_id == case.id else None
    if watch is not None:
        case = await services.cases.get(watch.case_id)
        if case is not None:
            return case, watch
    return None


def thread_link(case: Case) -> str:
    """A Teams link to the case card's thread (channel id + the root message id), or "" when it is unknown."""
    conversation = (case.conversation or {}).get("conversation") or {}
    conversation_id = str(conversation.get("id") or "")
    channel, _, root = conversation_id.partition(";messageid=")
    root = root or str(case.activity_id or "")
    if not channel or not root:
        return ""
    return f"{TEAMS_MESSAGE_LINK}{quote(channel, safe='')}/{quote(root, safe='')}?parentMessageId={quote(root)}"


def _done_lines(records: dict[str, Any]) -> list[str]:
    lines = []
    for record in sorted(records.values(), key=lambda r: r.started_at):
        title = ACTIONS[record.action].title if record.action in ACTIONS else record.action
        if record.item_label:
            title += f" “{record.item_label}”"
        word = STATE_WORD.get(record.state, record.state)
        stamp = f" at {when(record.finished_at)}" if record.finished_at else ""
        lines.append(f"{STATE_ICON.get(record.state, '•')} {title}: {word} by {record.actor_name}{stamp}")
    return lines


async def status_card(services: Services, target: TargetUser, case: Case, watch: Watch | None) -> Card:
    """The short answer: whose case, its containment, what was done, and where the case card is."""
    return user_status_card(target.label, case.id, case.created_at, case.alert.title,
                            watch_view(watch, case.id, case.nonce, services.signer),
                            _done_lines(await services.cases.records(case.id)), thread_link(case))
