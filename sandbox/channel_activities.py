"""Teams-shaped ids, accounts and activities for the sandbox channel.

Everything here mirrors what Microsoft Teams puts on the wire, field names included, so the bot
cannot tell the sandbox from the real service.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SANDBOX_CHANNEL_ID = "19:riposte-sandbox-general@thread.tacv2"
SANDBOX_TEAM_ID = "19:riposte-sandbox-team@thread.tacv2"
SANDBOX_BOT_ID = "28:riposte-sandbox-bot"
SANDBOX_BOT_NAME = "Riposte"
SANDBOX_TEAM_NAME = "Contoso SOC"
SANDBOX_CHANNEL_NAME = "General"
SANDBOX_TEAM_AAD_GROUP_ID = "9b000000-0000-4000-8000-000000000001"

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CLIENT_INFO: dict[str, str] = {
    "locale": "en-US",
    "country": "US",
    "platform": "Web",
    "timezone": "UTC",
    "type": "clientInfo",
}
BOT_ACCOUNT: dict[str, str] = {"id": SANDBOX_BOT_ID, "name": SANDBOX_BOT_NAME}


def _opaque(prefix: str, oid: str) -> str:
    # Teams ids are opaque but stable per user; a hash keeps them stable across restarts.
    digest = hashlib.sha256(f"{prefix}:{oid}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def teams_user_id(oid: str) -> str:
    """The `29:1...` id Teams uses for a person in a bot's conversations."""
    return "29:1" + _opaque("user", oid)


def personal_conversation_id(oid: str) -> str:
    """The `a:1...` id of the 1:1 chat between this person and the bot."""
    return "a:1" + _opaque("chat", oid)


def thread_conversation_id(root_id: str) -> str:
    return f"{SANDBOX_CHANNEL_ID};messageid={root_id}"


def is_personal(conversation_id: str) -> bool:
    return conversation_id.startswith("a:")


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_now_iso() -> str:
    # The sandbox's people all sit in UTC (see CLIENT_INFO), so the offset is +00:00.
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def invoke_id() -> str:
    return "f:" + str(secrets.randbelow(9 * 10**18) + 10**18)


class MessageIds:
    """13-digit millisecond ids like Teams', strictly increasing so two posts in one ms never clash."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> str:
        self._last = max(self._last + 1, int(time.time() * 1000))
        return str(self._last)


@dataclass(frozen=True)
class Person:
    """A tenant user as Teams knows them."""

    oid: str
    name: str
    upn: str
    email: str
    role: str | None
    user_type: str
    tenant_id: str

    @property
    def teams_id(self) -> str:
        return teams_user_id(self.oid)

    def account(self) -> dict[str, str]:
        """The `from` of an activity this person caused."""
        return {"id": self.teams_id, "name": self.name, "aadObjectId": self.oid}

    def member(self) -> dict[str, str]:
        """A TeamsChannelAccount, as /members returns it."""
        given, _, surname = self.name.partition(" ")
        return {
            "id": self.teams_id,
            "name": self.name,
            "aadObjectId": self.oid,
            "email": self.email,
            "userPrincipalName": self.upn,
            "givenName": given,
            "surname": surname,
            "tenantId": self.tenant_id,
            "userRole": "guest" if self.user_type == "Guest" else "user",
        }


def people_from_seed(seed: dict[str, Any]) -> list[Person]:
    tenant_id = str(seed["tenant"]["id"])
    return [
        Person(
            oid=str(user["id"]),
            name=str(user.get("displayName") or user["userPrincipalName"]),
            upn=str(user["userPrincipalName"]),
            email=str(user.get("mail") or user["userPrincipalName"]),
            role=user.get("sandboxRole"),
            user_type=str(user.get("userType") or "Member"),
            tenant_id=tenant_id,
        )
        for user in seed.get("users", [])
    ]


def conversation_of(conversation_id: str, tenant_id: str) -> dict[str, Any]:
    if is_personal(conversation_id):
        return {"conversationType": "personal", "tenantId": tenant_id, "id": conversation_id}
    return {"isGroup": True, "conversationType": "channel", "tenantId": tenant_id, "id": conversation_id}


def channel_data(conversation_id: str, tenant_id: str) -> dict[str, Any]:
    if is_personal(conversation_id):
        return {"tenant": {"id": tenant_id}}
    return {
        "channel": {"id": SANDBOX_CHANNEL_ID},
        "team": {"id": SANDBOX_TEAM_ID, "name": SANDBOX_TEAM_NAME, "aadGroupId": SANDBOX_TEAM_AAD_GROUP_ID},
        "tenant": {"id": tenant_id},
    }


def envelope(person: Person, conversation_id: str, service_url: str) -> dict[str, Any]:
    return {
        "timestamp": utc_now_iso(),
        "localTimestamp": local_now_iso(),
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": person.account(),
        "conversation": conversation_of(conversation_id, person.tenant_id),
        "recipient": dict(BOT_ACCOUNT),
        "locale": "en-US",
    }


def card_action_invoke(
    person: Person,
    conversation_id: str,
    reply_to_id: str,
    service_url: str,
    action: dict[str, Any],
    trigger: str = "manual",
) -> dict[str, Any]:
    """The `adaptiveCard/action` invoke Teams sends when someone clicks an Action.Execute button."""
    data = channel_data(conversation_id, person.tenant_id)
    data["source"] = {"name": "message"}
    data["legacy"] = {"replyToId": reply_to_id}
    return {
        "type": "invoke",
        "name": "adaptiveCard/action",
        "id": invoke_id(),
        **envelope(person, conversation_id, service_url),
        "entities": [dict(CLIENT_INFO)],
        "channelData": data,
        "replyToId": reply_to_id,
        "value": {"action": action, "trigger": trigger},
    }


def card_submit_message(
    person: Person, conversation_id: str, reply_to_id: str, service_url: str, activity_id: str, data: Any
) -> dict[str, Any]:
    """What Teams sends for an Action.Submit: a text-less message whose `value` is the data plus inputs."""
    channel = channel_data(conversation_id, person.tenant_id)
    channel["source"] = {"name": "message"}
    channel["legacy"] = {"replyToId": reply_to_id}
    return {
        "type": "message",
        "id": activity_id,
        **envelope(person, conversation_id, service_url),
        "entities": [dict(CLIENT_INFO)],
        "channelData": channel,
        "replyToId": reply_to_id,
        "value": data,
    }


def mention_text() -> str:
    return f"<at>{SANDBOX_BOT_NAME}</at>"


def mentions_bot(message: dict[str, Any]) -> bool:
    return any(e.get("type") == "mention" and (e.get("mentioned") or {}).get("id") == BOT_ACCOUNT["id"]
               for e in message.get("entities") or [])


def text_message(person: Person, conversation_id: str, service_url: str, activity_id: str, text: str) -> dict[str, Any]:
    """A message a person typed. `@Riposte` typed (or Teams' `<at>Riposte</at>`) is a mention of the bot, as the
    Teams composer makes it; nothing else is: in a channel the bot hears only messages that mention it."""
    typed = f"@{SANDBOX_BOT_NAME}"
    if text.startswith(typed):
        text = mention_text() + text[len(typed):]
    entities: list[dict[str, Any]] = []
    if mention_text() in text:
        entities.append({"type": "mention", "text": mention_text(), "mentioned": dict(BOT_ACCOUNT)})
    entities.append(dict(CLIENT_INFO))
    html = text.replace("&", "&amp;").replace("<at>", "\0").replace("</at>", "\1")
    html = html.replace("<", "&lt;").replace(">", "&gt;")
    html = html.replace("\0", '<span itemtype="http://schema.skype.com/Mention" itemscope itemid="0">')
    html = html.replace("\1", "</span>")
    return {
        "type": "message",
        "id": activity_id,
        **envelope(person, conversation_id, service_url),
        "text": text,
        "textFormat": "plain",
        # Teams also sends the rendered HTML of every typed message; bots must cope with it.
        "attachments": [{"contentType": "text/html", "content": f"<p>{html}</p>"}],
        "entities": entities,
        "channelData": channel_data(conversation_id, person.tenant_id),
    }


def sample_alert() -> dict[str, Any]:
    """A native alert for /api/alerts, new id each time so the bot treats it as a new incident."""
    return {
        "id": f"sandbox-{secrets.token_hex(6)}",
        "source": "defender",
        "title": "Suspicious inbox forwarding rule",
        "severity": "high",
        "user": "alice@contoso.com",
        "detected_at": utc_now_iso(),
        "description": ("An inbox rule forwards mail about invoices to invoices@evil.example and marks it read."),
        "category": "InitialAccess",
        "confidence": "high",
        "evidence": [
            {"kind": "inbox_rule", "id": "AQAAAJ5dZqA=", "name": "."},
            {"kind": "ip", "id": "203.0.113.7"},
        ],
    }
