"""What the sandbox channel holds: its threads, personal chats, per-person card views, and the bot link."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from sandbox.channel_activities import (
    BOT_ACCOUNT,
    CARD_CONTENT_TYPE,
    SANDBOX_CHANNEL_ID,
    SANDBOX_TEAM_ID,
    MessageIds,
    Person,
    card_action_invoke,
    card_submit_message,
    channel_data,
    envelope,
    is_personal,
    mentions_bot,
    people_from_seed,
    personal_conversation_id,
    sample_alert,
    text_message,
    thread_conversation_id,
    utc_now_iso,
)
from sandbox.channel_limits import SendLimits
from sandbox.channel_signin import (
    OAUTH_CARD,
    PendingSignIn,
    answer_login_request,
    answer_oauth_cards,
    finish,
    is_login_request,
)
from sandbox.channel_tokens import TokenServiceLinks
from sandbox.faults import Fault, Faults
from sandbox.seed import load_seed

BOT_TIMEOUT = aiohttp.ClientTimeout(total=30)
NOT_DELIVERED = 0  # send_message's status for a message Teams would not deliver to the bot


@dataclass
class Conversation:
    """A channel thread (activities[0] is the root post) or a person's 1:1 chat with the bot."""

    id: str
    personal_oid: str | None = None
    activities: list[dict[str, Any]] = field(default_factory=list)


class ChannelState:
    """The channel's memory; both the connector routes and the page API work on one instance."""

    def __init__(self, seed: dict[str, Any] | None = None) -> None:
        self.seed = seed if seed is not None else load_seed()
        self.tenant_id = str(self.seed["tenant"]["id"])
        self.people = people_from_seed(self.seed)
        self.bot_base_url: str | None = None
        self.alert_token: str | None = None
        self.tenant_url: str | None = None  # the sandbox tenant, for the page's "undo containment" controls
        self.service_url: str | None = None
        self.conversations: dict[str, Conversation] = {}
        self.received: list[dict[str, Any]] = []
        self.faults = Faults()
        self.send_limits: SendLimits | None = None  # Teams' send limits, when a test (or the page) switches them on
        self._sent_messages: dict[str, dict[str, Any]] = {}  # by id, as delivered to the bot
        self.deleted: set[str] = set()
        self.edited: set[str] = set()
        # (activity id, person's oid) -> the card an invoke answered with, shown only to that person.
        self.overrides: dict[tuple[str, str], dict[str, Any]] = {}
        self.version = 0
        self._changed = asyncio.Event()
        self._ids = MessageIds()
        self._session: aiohttp.ClientSession | None = None
        # Signing in (sandbox/channel_signin.py, channel_tokens.py): the sign-in a person must do by the link (by
        # their oid), OAuth cards the bot posted that Teams has not answered yet, and the token service.
        self.pending_signins: dict[str, PendingSignIn] = {}
        # (person's oid, invoke name, card verb, the answer's statusCode): what Teams saw, sign-in answers included.
        self.invoke_answers: list[tuple[str, str, str, int | None]] = []
        self.oauth_prompts: list[tuple[str, dict[str, Any]]] = []
        self.token_service = TokenServiceLinks(
            channel_url=lambda: (self.service_url or "").rstrip("/"), tenant_url=lambda: self.tenant_url,
            application=dict(self.seed.get("application") or {}), tenant_id=self.tenant_id, session=self.http,
            finish=self.finish_sign_in)

    # -- people -------------------------------------------------------------------------------

    def person(self, user_id: str) -> Person | None:
        """By Entra object id, Teams `29:` id, or UPN."""
        for candidate in self.people:
            if user_id in (candidate.oid, candidate.teams_id) or user_id.lower() == candidate.upn.lower():
                return candidate
        return None

    def pickable_people(self) -> list[Person]:
        return [p for p in self.people if p.role is not None]

    def members(self, conversation_id: str) -> list[Person] | None:
        conversation = self.conversations.get(conversation_id)
        if conversation is not None and conversation.personal_oid:
            return [p for p in self.people if p.oid == conversation.personal_oid]
        if self.is_known_conversation(conversation_id):
            return list(self.people)
        return None

    def is_known_conversation(self, conversation_id: str) -> bool:
        return (
            conversation_id in (SANDBOX_CHANNEL_ID, SANDBOX_TEAM_ID)
            or conversation_id in self.conversations
            or self._personal_owner(conversation_id) is not None
        )

    def _personal_owner(self, conversation_id: str) -> Person | None:
        return next((p for p in self.people if personal_conversation_id(p.oid) == conversation_id), None)

    # -- change tracking ----------------------------------------------------------------------

    def _bump(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for_change(self, since: int, seconds: float) -> None:
        """Long-poll helper: return when version moves past `since`, or after `seconds`."""
        if self.version != since:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._changed.wait()

    def wake_all(self) -> None:
        self._changed.set()

    def changed(self) -> None:
        self._bump()

    # -- reading ------------------------------------------------------------------------------

    def threads(self) -> list[dict[str, Any]]:
        return [
            {"id": c.id, "root": c.activities[0], "replies": c.activities[1:]}
            for c in self.conversations.values()
            if c.personal_oid is None and c.activities
        ]

    def chat(self, oid: str) -> list[dict[str, Any]]:
        conversation = self.conversations.get(personal_conversation_id(oid))
        return list(conversation.activities) if conversation else []

    def find_activity(self, activity_id: str) -> dict[str, Any] | None:
        located = self._locate(activity_id)
        return located[0].activities[located[1]] if located else None

    def _locate(self, activity_id: str) -> tuple[Conversation, int] | None:
        for conversation in self.conversations.values():
            for index, activity in enumerate(conversation.activities):
                if activity.get("id") == activity_id:
                    return conversation, index
        return None

    def cards_for(self, activity: dict[str, Any], oid: str) -> tuple[list[Any], bool]:
        """The adaptive cards this person sees on an activity, and whether that is their own override."""
        override = self.overrides.get((str(activity.get("id")), oid))
        if override is not None:
            return [override], True
        cards = []
        for attachment in activity.get("attachments") or []:
            if attachment.get("contentType") == CARD_CONTENT_TYPE:
                content = attachment.get("content")
                if isinstance(content, str):  # some serialisers send the card as a JSON string
                    with contextlib.suppress(ValueError):
                        content = json.loads(content)
                cards.append(content)
        return cards, False

    # -- writing: what the bot does through the connector ---------------------------------------

    def add_fault(self, method: str | None = None, path_regex: str = ".*", status: int = 500, times: int | None = 1,
                  retry_after: str | None = None, code: str | None = None, delay: float = 0.0,
                  body_regex: str | None = None, hold: float = 0.0, until_released: bool = False) -> Fault:
        """Fail the next `times` connector requests matching `method`, `path_regex` (on the decoded path,
        e.g. "^/v3/conversations$") and `body_regex` (on the JSON text) with `status`;
        code="MessageWritesBlocked" answers with Teams' body for a bot removed from the conversation.
        status=0 with `hold`: the request is served (the message is in the channel) and its answer held `hold`
        seconds, so that a bot dying meanwhile never learns the new message's id."""
        return self.faults.add(Fault(status=status, method=method, path_regex=path_regex, times=times,
                                     retry_after=retry_after, code=code, delay=delay, body_regex=body_regex,
                                     hold=hold, until_released=until_released))

    def _stamp(self, body: dict[str, Any], conversation: Conversation, activity_id: str) -> dict[str, Any]:
        activity = dict(body)
        activity["id"] = activity_id
        activity["timestamp"] = utc_now_iso()
        activity["channelId"] = "msteams"
        activity.setdefault("from", dict(BOT_ACCOUNT))
        if not activity["from"]:
            activity["from"] = dict(BOT_ACCOUNT)
        activity["conversation"] = {"id": conversation.id}
        return activity

    def _store(self, conversation: Conversation, body: dict[str, Any], activity_id: str) -> None:
        # Typing indicators and other non-message activities are accepted but never shown.
        if body.get("type", "message") == "message":
            conversation.activities.append(self._stamp(body, conversation, activity_id))
            if any(a.get("contentType") == OAUTH_CARD for a in body.get("attachments") or [] if isinstance(a, dict)):
                self.oauth_prompts.append((conversation.id, body))  # the Teams client answers it (channel_signin)
            self._bump()

    def create_thread(self, activity: dict[str, Any]) -> tuple[str, str]:
        """A new root post in the channel; returns (thread conversation id, root activity id)."""
        root_id = self._ids.next()
        conversation = Conversation(thread_conversation_id(root_id))
        self.conversations[conversation.id] = conversation
        self._store(conversation, {"type": "message", **activity}, root_id)
        return conversation.id, root_id

    def personal_conversation(self, oid: str) -> Conversation:
        conversation_id = personal_conversation_id(oid)
        if conversation_id not in self.conversations:
            self.conversations[conversation_id] = Conversation(conversation_id, personal_oid=oid)
        return self.conversations[conversation_id]

    def post(self, conversation_id: str, body: dict[str, Any], reply_to: str | None = None) -> str | None:
        """Send or reply, the way Teams routes it; None when the conversation does not exist."""
        if conversation_id == SANDBOX_CHANNEL_ID:
            # Teams: replying to a root through the channel id lands in that thread; else a new post.
            target = thread_conversation_id(reply_to) if reply_to else ""
            if target not in self.conversations:
                return self.create_thread(body)[1]
            conversation_id = target
        conversation = self.conversations.get(conversation_id)
        if conversation is None and (owner := self._personal_owner(conversation_id)):
            conversation = self.personal_conversation(owner.oid)
        if conversation is None:
            return None
        activity_id = self._ids.next()
        if reply_to and conversation.personal_oid is None:
            body = {**body, "replyToId": reply_to}
        self._store(conversation, body, activity_id)
        return activity_id

    def update(self, activity_id: str, body: dict[str, Any]) -> bool:
        located = self._locate(activity_id)
        if located is None:
            return False
        conversation, index = located
        old = conversation.activities[index]
        new = self._stamp(body, conversation, activity_id)
        new["timestamp"] = old.get("timestamp")
        new["from"] = old.get("from")
        conversation.activities[index] = new
        self.edited.add(activity_id)
        # Everyone, the clicker included, now sees the new version.
        for key in [key for key in self.overrides if key[0] == activity_id]:
            del self.overrides[key]
        self._bump()
        return True

    def delete(self, activity_id: str) -> bool:
        if self._locate(activity_id) is None:
            return False
        self.deleted.add(activity_id)
        self._bump()
        return True

    # -- talking to the bot ---------------------------------------------------------------------

    def http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=BOT_TIMEOUT)
        return self._session

    async def _post_to_bot(self, path: str, body: dict[str, Any], token: str | None = None) -> tuple[int, Any]:
        if not self.bot_base_url:
            return 503, {"error": {"code": "BotNotConnected", "message": "The sandbox has no bot URL yet."}}
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            async with self.http().post(
                f"{self.bot_base_url.rstrip('/')}{path}", json=body, headers=headers
            ) as response:
                raw = await response.text()
                try:
                    parsed: Any = json.loads(raw) if raw.strip() else None
                except ValueError:
                    parsed = raw
                return response.status, parsed
        except (aiohttp.ClientError, TimeoutError) as error:
            return 502, {"error": {"code": "BotUnreachable", "message": f"{type(error).__name__}: {error}"}}

    def _require(self, user_id: str) -> Person:
        person = self.person(user_id)
        if person is None:
            raise web.HTTPBadRequest(text=f"unknown user {user_id!r}")
        return person

    def _service_url(self) -> str:
        return self.service_url or "http://127.0.0.1/"

    async def send_invoke(
        self,
        user_id: str,
        conversation_id: str,
        reply_to_id: str,
        verb: str,
        data: dict[str, Any],
        *,
        title: str = "",
        trigger: str = "manual",
    ) -> tuple[int, Any]:
        """Click an Action.Execute button as `user_id`; a returned card becomes that person's view."""
        person = self._require(user_id)
        action = {"type": "Action.Execute", "title": title, "verb": verb, "data": data}
        invoke = card_action_invoke(person, conversation_id, reply_to_id, self._service_url(), action, trigger)
        status, body = await self.deliver_invoke(person, invoke)
        if is_login_request(status, body):  # the bot needs the clicker signed in: Teams' part (channel_signin)
            status, body = await answer_login_request(self, person, invoke, body)
        return status, body

    async def deliver_invoke(self, person: Person, invoke: dict[str, Any]) -> tuple[int, Any]:
        """POST an invoke as `person`; a card in the answer becomes their view of the message it was on."""
        status, body = await self._post_to_bot("/api/messages", invoke)
        action = (invoke.get("value") or {}).get("action") or {}
        code = body.get("statusCode") if isinstance(body, dict) and "statusCode" in body else status
        self.invoke_answers.append((person.oid, str(invoke.get("name")), str(action.get("verb") or ""), code))
        reply_to_id = str(invoke.get("replyToId") or "")
        if (
            status == 200
            and reply_to_id
            and isinstance(body, dict)
            and body.get("type") == CARD_CONTENT_TYPE
            and isinstance(body.get("value"), dict)
        ):
            self.overrides[(reply_to_id, person.oid)] = body["value"]
            self._bump()
        return status, body

    async def finish_sign_in(self, teams_user_id: str, magic_code: str) -> str:
        """The token service's sign-in page finished: Teams completes what the person was doing."""
        return await finish(self, teams_user_id, magic_code)

    async def remove_bot_from_team(self, user_id: str) -> tuple[int, Any]:
        """A team owner uninstalls the app: Teams tells the bot (installationUpdate, action "remove", from the
        team's General channel) and refuses its later posts there with 403 BotNotInConversationRoster."""
        person = self._require(user_id)
        conversation_id = SANDBOX_CHANNEL_ID
        activity = {
            **envelope(person, conversation_id, self._service_url()), "type": "installationUpdate",
            "id": self._ids.next(), "action": "remove", "channelData": channel_data(conversation_id, person.tenant_id),
        }
        self.add_fault("POST", "^/v3/conversations", status=403, code="BotNotInConversationRoster", times=None)
        return await self._post_to_bot("/api/messages", activity)

    async def send_submit(self, user_id: str, conversation_id: str, reply_to_id: str, data: Any) -> tuple[int, Any]:
        """Click an Action.Submit button: Teams sends a hidden message carrying the data as `value`."""
        person = self._require(user_id)
        message = card_submit_message(person, conversation_id, reply_to_id, self._service_url(), self._ids.next(), data)
        return await self._post_to_bot("/api/messages", message)

    async def send_message(self, user_id: str, text: str, conversation_id: str | None) -> tuple[int, Any]:
        """Post what a person typed (new thread when conversation_id is None) and deliver it to the bot."""
        person = self._require(user_id)
        activity_id = self._ids.next()
        if conversation_id is None:
            conversation = Conversation(thread_conversation_id(activity_id))
            self.conversations[conversation.id] = conversation
        elif is_personal(conversation_id):
            if conversation_id != personal_conversation_id(person.oid):
                raise web.HTTPBadRequest(text="a personal chat belongs to its own person")
            conversation = self.personal_conversation(person.oid)
        elif conversation_id in self.conversations:
            conversation = self.conversations[conversation_id]
        else:
            raise web.HTTPNotFound(text=f"unknown conversation {conversation_id!r}")
        message = text_message(person, conversation.id, self._service_url(), activity_id, text)
        if conversation.activities and conversation.personal_oid is None:
            message["replyToId"] = conversation.activities[0]["id"]
        conversation.activities.append({k: v for k, v in message.items() if k != "attachments"})
        self._bump()
        if conversation.personal_oid is None and not mentions_bot(message):
            # Teams delivers to a bot only the channel messages that @mention it: this one stays in the thread.
            return NOT_DELIVERED, {"delivered": False, "reason": "a channel message that does not mention the bot"}
        self._sent_messages[activity_id] = message
        answer = await self._post_to_bot("/api/messages", message)
        await answer_oauth_cards(self, person)  # a sign-in card the bot answered with: Teams tries SSO
        return answer

    async def redeliver(self, activity_id: str) -> tuple[int, Any]:
        """Deliver a typed message to the bot again, same id and all, as Teams does when the bot took too long
        (about 15 s) to answer it."""
        message = self._sent_messages.get(activity_id)
        if message is None:
            raise web.HTTPNotFound(text=f"no message {activity_id!r} was sent to the bot")
        return await self._post_to_bot("/api/messages", message)

    async def send_sample_alert(self) -> tuple[int, Any]:
        return await self._post_to_bot("/api/alerts", sample_alert(), token=self.alert_token)

    async def revert(self, body: dict[str, Any]) -> tuple[int, Any]:
        """Undo containment in the sandbox tenant (its POST /_sandbox/revert), for the page's controls."""
        if not self.tenant_url:
            return 503, {"error": "The sandbox channel does not know the sandbox tenant's URL."}
        try:
            async with self.http().post(f"{self.tenant_url.rstrip('/')}/_sandbox/revert", json=body) as response:
                return response.status, await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            return 502, {"error": f"{type(error).__name__}: {error}"}

    async def close(self) -> None:
        self.wake_all()
        if self._session is not None:
            await self._session.close()
            self._session = None
