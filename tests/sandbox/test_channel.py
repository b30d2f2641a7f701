"""The sandbox channel over real HTTP: the Bot Connector routes the bot calls, the Teams-shaped activities it
sends to the bot (checked with a small fake bot that records them), the page API, and the page in Chromium."""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sandbox.channel import (
    CHANNEL,
    SANDBOX_BOT_ID,
    SANDBOX_BOT_NAME,
    SANDBOX_CHANNEL_ID,
    SANDBOX_TEAM_ID,
    ChannelState,
    create_channel_app,
    personal_conversation_id,
    teams_user_id,
)
from sandbox.channel_page import STATIC_DIR
from sandbox.seed import load_seed
from tests.browser import chromium_page, needs_chromium

SEED = load_seed()
TENANT_ID = SEED["tenant"]["id"]
USERS = {user["userPrincipalName"].split("@")[0]: user for user in SEED["users"]}
RITA = USERS["rita.responder"]
AVERY = USERS["avery.approver"]
CARD_TYPE = "application/vnd.microsoft.card.adaptive"

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]

CARD: dict[str, Any] = {
    "type": "AdaptiveCard",
    "version": "1.5",
    "body": [
        {"type": "TextBlock", "text": "Suspicious inbox forwarding rule", "weight": "bolder", "color": "attention"},
        {"type": "FactSet", "facts": [{"title": "User", "value": "<img src=x onerror=alert(1)>"}]},
        {"type": "Input.Text", "id": "reason", "placeholder": "Reason"},
    ],
    "actions": [
        {"type": "Action.Execute", "title": "Revoke sessions", "verb": "revoke_sessions", "data": {"case": "c1"}},
        {
            "type": "Action.Execute",
            "title": "Remove app",
            "verb": "remove_app",
            "isEnabled": False,
            "tooltip": "Not applicable: no sideloaded app",
        },
    ],
}
DONE_CARD: dict[str, Any] = {
    "type": "AdaptiveCard",
    "version": "1.5",
    "body": [{"type": "TextBlock", "text": "Sessions revoked by Rita Responder"}],
}


@dataclass
class FakeBot:
    """A test double of the bot: records what the channel sends and answers invokes with DONE_CARD."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    message_headers: list[dict[str, str]] = field(default_factory=list)
    alerts: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)

    def app(self) -> web.Application:
        async def messages(request: web.Request) -> web.Response:
            activity = await request.json()
            self.messages.append(activity)
            self.message_headers.append(dict(request.headers))
            if activity["type"] == "invoke":
                return web.json_response({"statusCode": 200, "type": CARD_TYPE, "value": DONE_CARD})
            return web.Response(status=201)

        async def alerts(request: web.Request) -> web.Response:
            self.alerts.append((await request.json(), request.headers.get("Authorization")))
            return web.json_response({"case_id": f"case-{len(self.alerts)}"}, status=202)

        app = web.Application()
        app.router.add_post("/api/messages", messages)
        app.router.add_post("/api/alerts", alerts)
        return app


@dataclass
class Channel:
    server: TestServer
    state: ChannelState
    url: str  # with a trailing slash, as serviceUrl

    def conversation_url(self, conversation_id: str, rest: str = "") -> str:
        # Encoded the way botbuilder's msrest client encodes path parameters.
        return f"{self.url}v3/conversations/{quote(conversation_id, safe='')}{rest}"


@pytest.fixture
async def channel(aiohttp_server: ServerFactory) -> Channel:
    app = create_channel_app(load_seed())
    server = await aiohttp_server(app)
    state = app[CHANNEL]
    state.service_url = str(server.make_url("/"))
    return Channel(server, state, state.service_url)


@pytest.fixture
async def fake_bot(channel: Channel, aiohttp_server: ServerFactory) -> FakeBot:
    bot = FakeBot()
    server = await aiohttp_server(bot.app())
    channel.state.bot_base_url = str(server.make_url("")).rstrip("/")
    return bot


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(http: aiohttp.ClientSession, method: str, url: str, body: Any = None) -> tuple[int, Any]:
    async with http.request(method, url, json=body) as response:
        text = await response.text()
        return response.status, (await response.json() if text else None)


async def post_card_thread(channel: Channel, http: aiohttp.ClientSession) -> tuple[str, str]:
    status, body = await call(
        http,
        "POST",
        f"{channel.url}v3/conversations",
        {
            "isGroup": True,
            "channelData": {"channel": {"id": SANDBOX_CHANNEL_ID}, "tenant": {"id": TENANT_ID}},
            "activity": {"type": "message", "attachments": [{"contentType": CARD_TYPE, "content": CARD}]},
            "bot": {"id": SANDBOX_BOT_ID, "name": SANDBOX_BOT_NAME},
            "tenantId": TENANT_ID,
        },
    )
    assert status == 201, body
    return body["id"], body["activityId"]


# -- Bot Connector routes -------------------------------------------------------------------------------


async def test_thread_lifecycle_create_reply_update_delete(channel: Channel, http: aiohttp.ClientSession) -> None:
    conversation_id, root_id = await post_card_thread(channel, http)
    assert re.fullmatch(r"\d{13}", root_id)
    assert conversation_id == f"{SANDBOX_CHANNEL_ID};messageid={root_id}"

    reply_url = channel.conversation_url(conversation_id, f"/activities/{root_id}")
    status, body = await call(http, "POST", reply_url, {"type": "message", "text": "r"})
    assert status == 201 and re.fullmatch(r"\d{13}", body["id"])
    reply_id = body["id"]
    status, body = await call(
        http, "POST", channel.conversation_url(conversation_id, "/activities"), {"type": "message", "text": "r2"}
    )
    assert status == 201
    [thread] = channel.state.threads()
    assert thread["id"] == conversation_id and thread["root"]["id"] == root_id
    assert [a["text"] for a in thread["replies"]] == ["r", "r2"]
    assert thread["replies"][0]["replyToId"] == root_id

    status, body = await call(
        http,
        "PUT",
        channel.conversation_url(conversation_id, f"/activities/{root_id}"),
        {"type": "message", "id": root_id, "text": "updated", "attachments": []},
    )
    assert (status, body) == (200, {"id": root_id})
    current = channel.state.find_activity(root_id)
    assert current is not None and current["text"] == "updated" and current["attachments"] == []
    assert channel.state.threads()[0]["root"]["id"] == root_id

    status, _ = await call(http, "DELETE", channel.conversation_url(conversation_id, f"/activities/{reply_id}"))
    assert status == 200 and reply_id in channel.state.deleted
    _, page = await call(http, "GET", f"{channel.url}sandbox/api/state?user={RITA['id']}")
    root_view, deleted_view = page["threads"][0]["root"], page["threads"][0]["replies"][0]
    assert root_view["edited"] and root_view["text"] == "updated"
    assert deleted_view["deleted"] and deleted_view["text"] == ""

    methods = [(r["method"], r["path"].split("/")[-1]) for r in channel.state.received]
    assert methods == [
        ("POST", "conversations"),
        ("POST", root_id),
        ("POST", "activities"),
        ("PUT", root_id),
        ("DELETE", reply_id),
    ]
    assert channel.state.received[1]["path"] == f"/v3/conversations/{conversation_id}/activities/{root_id}"
    assert channel.state.received[3]["body"]["text"] == "updated"


async def test_posting_to_the_channel_id_starts_a_thread_and_typing_is_not_shown(
    channel: Channel, http: aiohttp.ClientSession
) -> None:
    status, body = await call(
        http, "POST", channel.conversation_url(SANDBOX_CHANNEL_ID, "/activities"), {"type": "message", "text": "hi"}
    )
    assert status == 201
    [thread] = channel.state.threads()
    assert thread["root"]["id"] == body["id"] and thread["root"]["text"] == "hi"
    status, _ = await call(http, "POST", channel.conversation_url(thread["id"], "/activities"), {"type": "typing"})
    assert status == 201 and channel.state.threads()[0]["replies"] == []


async def test_unknown_channel_conversation_activity_and_member_are_404(
    channel: Channel, http: aiohttp.ClientSession
) -> None:
    not_found = {"error": {"code": "ConversationNotFound", "message": "Conversation not found."}}
    elsewhere = {"isGroup": True, "channelData": {"channel": {"id": "19:other@thread.tacv2"}}, "activity": {}}
    assert await call(http, "POST", f"{channel.url}v3/conversations", elsewhere) == (404, not_found)
    missing = f"{SANDBOX_CHANNEL_ID};messageid=1000000000000"
    assert await call(http, "POST", channel.conversation_url(missing, "/activities"), {"type": "message"}) == (
        404,
        not_found,
    )
    assert (await call(http, "GET", channel.conversation_url("19:nope@thread.tacv2", "/members")))[0] == 404
    conversation_id, _ = await post_card_thread(channel, http)
    status, body = await call(
        http, "PUT", channel.conversation_url(conversation_id, "/activities/999"), {"type": "message"}
    )
    assert status == 404 and body["error"]["code"] == "ActivityNotFound"
    status, body = await call(http, "GET", channel.conversation_url(conversation_id, "/members/29:1nobody"))
    assert status == 404 and body["error"]["code"] == "MemberNotFound"


async def test_members_are_teams_channel_accounts(channel: Channel, http: aiohttp.ClientSession) -> None:
    conversation_id, _ = await post_card_thread(channel, http)
    status, members = await call(http, "GET", channel.conversation_url(conversation_id, "/members"))
    assert status == 200 and len(members) == len(SEED["users"])
    rita = next(m for m in members if m["aadObjectId"] == RITA["id"])
    assert rita == {
        "id": teams_user_id(RITA["id"]),
        "name": "Rita Responder",
        "aadObjectId": RITA["id"],
        "email": "rita.responder@contoso.com",
        "userPrincipalName": "rita.responder@contoso.com",
        "givenName": "Rita",
        "surname": "Responder",
        "tenantId": TENANT_ID,
        "userRole": "user",
    }
    assert rita["id"].startswith("29:1")
    for member_id in (rita["id"], RITA["id"]):
        member_url = channel.conversation_url(conversation_id, f"/members/{member_id}")
        assert await call(http, "GET", member_url) == (200, rita)
    status, paged = await call(http, "GET", channel.conversation_url(SANDBOX_TEAM_ID, "/pagedmembers"))
    assert status == 200 and rita in paged["members"]


async def test_bot_can_open_a_personal_chat(channel: Channel, http: aiohttp.ClientSession) -> None:
    status, body = await call(
        http,
        "POST",
        f"{channel.url}v3/conversations",
        {
            "isGroup": False,
            "members": [{"id": teams_user_id(AVERY["id"])}],
            "channelData": {"tenant": {"id": TENANT_ID}},
            "activity": {"type": "message", "text": "Approval needed"},
        },
    )
    assert status == 201 and body["id"] == personal_conversation_id(AVERY["id"]) and body["activityId"]
    assert [a["text"] for a in channel.state.chat(AVERY["id"])] == ["Approval needed"]


# -- activities sent to the bot -------------------------------------------------------------------------


async def test_click_sends_a_teams_invoke_and_the_answer_is_the_clickers_view_until_a_put(
    channel: Channel, fake_bot: FakeBot, http: aiohttp.ClientSession
) -> None:
    conversation_id, root_id = await post_card_thread(channel, http)
    status, body = await call(
        http,
        "POST",
        f"{channel.url}sandbox/api/click",
        {
            "user": RITA["id"],
            "conversationId": conversation_id,
            "activityId": root_id,
            "verb": "revoke_sessions",
            "title": "Revoke sessions",
            "data": {"case": "c1", "reason": "phished"},
        },
    )
    assert status == 200 and body == {
        "status": 200,
        "body": {"statusCode": 200, "type": CARD_TYPE, "value": DONE_CARD},
    }
    [invoke] = fake_bot.messages
    assert "Authorization" not in fake_bot.message_headers[0]
    assert re.fullmatch(r"f:\d+", invoke.pop("id"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", invoke.pop("timestamp"))
    assert invoke.pop("localTimestamp").endswith("+00:00")
    assert invoke["channelData"].pop("team")["id"] == SANDBOX_TEAM_ID
    assert invoke == {
        "type": "invoke",
        "name": "adaptiveCard/action",
        "serviceUrl": channel.url,
        "channelId": "msteams",
        "from": {"id": teams_user_id(RITA["id"]), "name": "Rita Responder", "aadObjectId": RITA["id"]},
        "conversation": {
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": TENANT_ID,
            "id": conversation_id,
        },
        "recipient": {"id": SANDBOX_BOT_ID, "name": SANDBOX_BOT_NAME},
        "entities": [{"locale": "en-US", "country": "US", "platform": "Web", "timezone": "UTC", "type": "clientInfo"}],
        "channelData": {
            "channel": {"id": SANDBOX_CHANNEL_ID},
            "tenant": {"id": TENANT_ID},
            "source": {"name": "message"},
            "legacy": {"replyToId": root_id},
        },
        "replyToId": root_id,
        "value": {
            "action": {
                "type": "Action.Execute",
                "title": "Revoke sessions",
                "verb": "revoke_sessions",
                "data": {"case": "c1", "reason": "phished"},
            },
            "trigger": "manual",
        },
        "locale": "en-US",
    }

    async def cards_seen_by(user: dict[str, Any]) -> tuple[list[Any], bool]:
        _, page = await call(http, "GET", f"{channel.url}sandbox/api/state?user={user['id']}")
        root = page["threads"][0]["root"]
        return root["cards"], root["overridden"]

    assert await cards_seen_by(RITA) == ([DONE_CARD], True)
    assert await cards_seen_by(AVERY) == ([CARD], False)

    newer = {**CARD, "body": [{"type": "TextBlock", "text": "v2"}]}
    await call(
        http,
        "PUT",
        channel.conversation_url(conversation_id, f"/activities/{root_id}"),
        {"type": "message", "attachments": [{"contentType": CARD_TYPE, "content": newer}]},
    )
    assert await cards_seen_by(RITA) == ([newer], False)
    assert channel.state.overrides == {}


async def test_typed_messages_are_teams_shaped_and_a_channel_delivers_only_mentions(
    channel: Channel, fake_bot: FakeBot, http: aiohttp.ClientSession
) -> None:
    status, _ = await channel.state.send_message(RITA["id"], "@Riposte block alice@contoso.com", None)
    assert status == 201
    post = fake_bot.messages[-1]
    [thread] = channel.state.threads()
    assert thread["root"]["id"] == post["id"] and re.fullmatch(r"\d{13}", post["id"])
    assert post["conversation"] == {
        "isGroup": True,
        "conversationType": "channel",
        "tenantId": TENANT_ID,
        "id": f"{SANDBOX_CHANNEL_ID};messageid={post['id']}",
    }
    assert post["text"] == "<at>Riposte</at> block alice@contoso.com" and post["textFormat"] == "plain"
    assert post["entities"][0] == {
        "type": "mention",
        "text": "<at>Riposte</at>",
        "mentioned": {"id": SANDBOX_BOT_ID, "name": SANDBOX_BOT_NAME},
    }
    assert post["entities"][1]["type"] == "clientInfo"
    assert post["from"]["aadObjectId"] == RITA["id"] and post["recipient"]["id"] == SANDBOX_BOT_ID
    assert post["channelData"]["tenant"] == {"id": TENANT_ID}
    assert post["channelData"]["channel"] == {"id": SANDBOX_CHANNEL_ID}
    assert post["channelData"]["team"]["id"] == SANDBOX_TEAM_ID
    assert post["serviceUrl"] == channel.url and post["channelId"] == "msteams" and "replyToId" not in post

    # A plain reply in the thread is seen by the people in it, never by the bot.
    status, body = await channel.state.send_message(AVERY["id"], "status", thread["id"])
    assert status == 0 and body["delivered"] is False and fake_bot.messages[-1]["id"] == post["id"]
    assert [a["text"] for a in channel.state.threads()[0]["replies"]] == ["status"]

    await channel.state.send_message(AVERY["id"], "<at>Riposte</at> status", thread["id"])
    reply = fake_bot.messages[-1]
    assert reply["conversation"]["id"] == thread["id"] and reply["replyToId"] == thread["root"]["id"]
    assert reply["entities"][0]["type"] == "mention"
    assert [a["from"]["name"] for a in channel.state.threads()[0]["replies"]] == ["Avery Approver"] * 2

    status, body = await call(
        http, "POST", f"{channel.url}sandbox/api/message", {"user": RITA["id"], "text": "help", "personal": True}
    )
    assert status == 200 and body["status"] == 201
    chat = fake_bot.messages[-1]
    assert chat["text"] == "help" and [e["type"] for e in chat["entities"]] == ["clientInfo"]
    assert chat["conversation"] == {
        "conversationType": "personal",
        "tenantId": TENANT_ID,
        "id": personal_conversation_id(RITA["id"]),
    }
    assert chat["conversation"]["id"].startswith("a:1")
    assert chat["channelData"] == {"tenant": {"id": TENANT_ID}}
    assert [a["text"] for a in channel.state.chat(RITA["id"])] == ["help"]
    assert channel.state.chat(AVERY["id"]) == []


async def test_action_submit_is_a_hidden_message_with_value(
    channel: Channel, fake_bot: FakeBot, http: aiohttp.ClientSession
) -> None:
    conversation_id, root_id = await post_card_thread(channel, http)
    body = {
        "user": RITA["id"],
        "conversationId": conversation_id,
        "activityId": root_id,
        "actionType": "Action.Submit",
        "data": {"x": "1"},
    }
    status, answer = await call(http, "POST", f"{channel.url}sandbox/api/click", body)
    assert status == 200 and answer["status"] == 201
    submitted = fake_bot.messages[-1]
    assert submitted["type"] == "message" and submitted["value"] == {"x": "1"} and "text" not in submitted
    assert submitted["replyToId"] == root_id and channel.state.threads()[0]["replies"] == []


async def test_sample_alert_is_fresh_each_time_and_carries_the_token(
    channel: Channel, fake_bot: FakeBot, http: aiohttp.ClientSession
) -> None:
    channel.state.alert_token = "s3cret"
    for _ in range(2):
        status, body = await call(http, "POST", f"{channel.url}sandbox/api/sample-alert", {})
        assert status == 200 and body["status"] == 202
    (first, auth), (second, _) = fake_bot.alerts
    assert auth == "Bearer s3cret" and first["id"] != second["id"] and first["id"].startswith("sandbox-")
    assert first["user"] == "alice@contoso.com" and first["detected_at"].endswith("Z")
    assert first["evidence"] == [
        {"kind": "inbox_rule", "id": "AQAAAJ5dZqA=", "name": "."},
        {"kind": "ip", "id": "203.0.113.7"},
    ]


async def test_unreachable_bot_is_reported_not_raised(channel: Channel) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel.state.bot_base_url = f"http://127.0.0.1:{port}"
    status, body = await channel.state.send_message(RITA["id"], "@Riposte hello", None)
    assert status == 502 and body["error"]["code"] == "BotUnreachable"


async def test_page_and_long_poll(channel: Channel, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{channel.url}sandbox") as response:
        assert response.status == 200 and 'id="who"' in await response.text()
    async with http.get(f"{channel.url}sandbox/static/sandbox.js") as response:
        assert response.status == 200
    _, page = await call(http, "GET", f"{channel.url}sandbox/api/state?user={RITA['id']}")
    assert [(p["name"], p["role"]) for p in page["people"]] == [
        ("Rita Responder", "responder"),
        ("Avery Approver", "approver"),
        ("Nolan Norole", "no role"),
        ("Ada Admin-Responder", "admin responder"),
    ]
    waiting = asyncio.create_task(
        call(http, "GET", f"{channel.url}sandbox/api/state?user={RITA['id']}&since={page['version']}&wait=10")
    )
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await post_card_thread(channel, http)
    _, changed = await asyncio.wait_for(waiting, 5)
    assert changed["version"] > page["version"] and len(changed["threads"]) == 1


async def test_botbuilder_round_trip(channel: Channel, aiohttp_server: ServerFactory) -> None:
    """botbuilder's own CloudAdapter (no app id) and ConnectorClient accept what the sandbox speaks."""
    from botbuilder.core import InvokeResponse, TurnContext
    from botbuilder.core.teams import TeamsActivityHandler, TeamsInfo
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
    from botbuilder.schema import AdaptiveCardInvokeResponse

    class Config:
        APP_ID = ""
        APP_PASSWORD = ""
        APP_TYPE = "MultiTenant"
        APP_TENANTID = ""

    class EchoBot(TeamsActivityHandler):  # type: ignore[misc]
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            member = await TeamsInfo.get_member(turn_context, turn_context.activity.from_property.id)
            text = TurnContext.remove_recipient_mention(turn_context.activity).strip()
            await turn_context.send_activity(f"{member.name} said {text}")

        async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
            verb = turn_context.activity.value["action"]["verb"]
            card = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": verb}]}
            answer = AdaptiveCardInvokeResponse(status_code=200, type=CARD_TYPE, value=card)
            return InvokeResponse(status=200, body=answer)

    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(Config()))
    bot = EchoBot()

    async def messages(request: web.Request) -> web.Response:
        response: web.Response = await adapter.process(request, bot)
        return response

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    server = await aiohttp_server(app)
    channel.state.bot_base_url = str(server.make_url("")).rstrip("/")

    status, _ = await channel.state.send_message(RITA["id"], "@Riposte ping", None)
    assert status in (200, 201)
    [thread] = channel.state.threads()
    assert [a["text"] for a in thread["replies"]] == ["Rita Responder said ping"]
    status, body = await channel.state.send_invoke(RITA["id"], thread["id"], thread["root"]["id"], "go", {})
    assert status == 200 and body["value"]["body"][0]["text"] == "go"


# -- the page in a browser ------------------------------------------------------------------------------


@pytest.mark.browser
@needs_chromium
async def test_page_renders_the_card_and_a_click_sends_the_invoke(
    channel: Channel, fake_bot: FakeBot, http: aiohttp.ClientSession
) -> None:
    from playwright.async_api import expect

    conversation_id, root_id = await post_card_thread(channel, http)
    async with chromium_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{channel.url}sandbox?user={RITA['id']}")
        card = page.locator(f'.ac-card[data-activity-id="{root_id}"]')
        await expect(card.locator("button[data-verb='revoke_sessions']")).to_have_text("Revoke sessions")
        disabled = card.locator("button[data-verb='remove_app']")
        await expect(disabled).to_be_disabled()
        await expect(disabled).to_have_attribute("title", "Not applicable: no sideloaded app")  # Teams' tooltip
        await expect(card).to_contain_text("<img src=x onerror=alert(1)>")  # shown as text, never as HTML
        await expect(page.locator("#who")).to_have_value(RITA["id"])

        await card.locator("input[data-input-id='reason']").fill("phished")
        await card.locator("button[data-verb='revoke_sessions']").click()
        await expect(page.locator(f'.ac-card[data-activity-id="{root_id}"]')).to_contain_text(
            "Sessions revoked by Rita Responder"
        )
        assert errors == []
    [invoke] = fake_bot.messages
    assert invoke["from"]["aadObjectId"] == RITA["id"] and invoke["conversation"]["id"] == conversation_id
    assert invoke["value"]["action"]["data"] == {"case": "c1", "reason": "phished"}
    assert invoke["value"]["action"]["title"] == "Revoke sessions"


# -- Microsoft's renderer on the page --------------------------------------------------------------------

VENDOR = STATIC_DIR / "vendor" / "adaptivecards"
FORM: dict[str, Any] = {
    "type": "AdaptiveCard",
    "version": "1.5",
    "body": [
        {"type": "TextBlock", "wrap": True,
         "text": "**Bold** [portal](https://portal.example/x) <at>Rita Responder</at> [js](javascript:alert(1))"},
        {"type": "RichTextBlock",
         "inlines": [{"type": "TextRun", "text": "[literal](https://evil.example) **as typed**"}]},
        {"type": "Input.Text", "id": "note", "label": "Why", "isRequired": True, "errorMessage": "Say why"},
        {"type": "Input.Toggle", "id": "notify", "title": "Notify the user", "value": "yes", "valueOn": "yes",
         "valueOff": "no"},
        {"type": "Input.ChoiceSet", "id": "mode", "style": "expanded", "value": "grant",
         "choices": [{"title": "This user's consent", "value": "grant"}, {"title": "The whole app", "value": "app"}]},
    ],
    "actions": [
        {"type": "Action.Submit", "title": "Send", "data": {"kind": "submit"}},
        {"type": "Action.ShowCard", "title": "More", "card": {
            "type": "AdaptiveCard",
            "body": [{"type": "Input.Text", "id": "extra", "label": "Extra"}],
            "actions": [{"type": "Action.Execute", "title": "Go", "verb": "go", "data": {"case": "c9"}}],
        }},
    ],
}


def test_the_vendored_renderer_and_host_config_are_the_pinned_files_with_their_licences() -> None:
    note = (VENDOR / "README.md").read_text(encoding="utf-8")
    recorded = dict(re.findall(r"- `([\w.-]+)`: `([0-9a-f]{64})`", note))
    assert set(recorded) == {"adaptivecards.min.js", "microsoft-teams-light.json", "teams-container-light.css"}
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, f"{name} is not the pinned file"
    for licence in ("LICENSE-adaptivecards", "LICENSE-adaptivecards-designer"):
        assert (VENDOR / licence).read_text(encoding="utf-8").startswith("MIT License")
    script = (VENDOR.parent.parent / "sandbox.html").read_text(encoding="utf-8")
    assert script.index("vendor/adaptivecards/adaptivecards.min.js") < script.index("sandbox.js")
    pinned = (VENDOR.parents[3] / "scripts" / "vendor-adaptivecards").read_text(encoding="utf-8")
    assert "ADAPTIVECARDS=3.0.6" in pinned and "ADAPTIVECARDS_DESIGNER=2.4.4" in pinned
    assert "adaptivecards@3.0.6" in note and "adaptivecards-designer@2.4.4" in note


async def post_thread(channel: Channel, http: aiohttp.ClientSession, card: dict[str, Any]) -> tuple[str, str]:
    status, body = await call(http, "POST", f"{channel.url}v3/conversations", {
        "isGroup": True,
        "channelData": {"channel": {"id": SANDBOX_CHANNEL_ID}, "tenant": {"id": TENANT_ID}},
        "activity": {"type": "message", "attachments": [{"contentType": CARD_TYPE, "content": card}]},
        "bot": {"id": SANDBOX_BOT_ID, "name": SANDBOX_BOT_NAME},
        "tenantId": TENANT_ID,
    })
    assert status == 201, body
    return body["id"], body["activityId"]


@pytest.mark.browser
@needs_chromium
async def test_the_renderer_draws_teams_markdown_and_clicks_carry_the_inputs_as_teams_sends_them(
    channel: Channel, fake_bot: FakeBot, http: aiohttp.ClientSession
) -> None:
    from playwright.async_api import expect

    conversation_id, root_id = await post_thread(channel, http, FORM)
    async with chromium_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{channel.url}sandbox?user={RITA['id']}")
        card = page.locator(f'.ac-card[data-activity-id="{root_id}"]')
        await expect(card.locator(".ac-adaptiveCard")).to_have_count(1)  # Microsoft's renderer drew it
        # Markdown in a TextBlock, as Teams draws it; a javascript: link stays text; a TextRun is never markdown.
        await expect(card.locator(".ac-textBlock strong")).to_have_text("Bold")
        await expect(card.locator("a")).to_have_count(1)
        await expect(card.locator("a")).to_have_attribute("href", "https://portal.example/x")
        await expect(card.locator(".mention")).to_have_text("Rita Responder")
        await expect(card).to_contain_text("[js](javascript:alert(1))")
        await expect(card).to_contain_text("[literal](https://evil.example) **as typed**")

        # A required input left empty: the renderer refuses the click and says why; nothing reaches the bot.
        await card.get_by_role("button", name="Send").click()
        await expect(card).to_contain_text("Say why")
        assert fake_bot.messages == []

        # Action.Submit: a message whose value is the data with every input's value.
        await card.locator("[data-input-id='note']").fill("phished")
        await card.get_by_role("button", name="Send").click()
        await expect(page.locator(f'.ac-card[data-activity-id="{root_id}"] .ac-busy')).to_have_count(0)
        [submitted] = fake_bot.messages
        assert submitted["type"] == "message" and submitted["replyToId"] == root_id
        assert submitted["value"] == {"kind": "submit", "note": "phished", "notify": "yes", "mode": "grant"}

        # Action.Execute in a show card: the invoke's value.action.data holds its data and the inputs of its card
        # and of the card round it (the show card's inputs are marked when it opens).
        card = page.locator(f'.ac-card[data-activity-id="{root_id}"]')
        await card.locator("[data-input-id='note']").fill("phished again")
        await card.get_by_text("The whole app").click()
        await card.get_by_role("button", name="More").click()
        await card.locator("[data-input-id='extra']").fill("x")
        await card.locator("button[data-verb='go']").click()
        await expect(page.locator(f'.ac-card[data-activity-id="{root_id}"]')).to_contain_text(
            "Sessions revoked by Rita Responder")  # the fake bot's answer card, drawn for the clicker
        assert errors == []
    invoke = fake_bot.messages[-1]
    assert invoke["type"] == "invoke" and invoke["name"] == "adaptiveCard/action"
    assert invoke["conversation"]["id"] == conversation_id and invoke["replyToId"] == root_id
    assert invoke["value"]["action"]["verb"] == "go" and invoke["value"]["action"]["title"] == "Go"
    assert invoke["value"]["action"]["data"] == {"case": "c9", "extra": "x", "note": "phished again",
                                                 "notify": "yes", "mode": "app"}
