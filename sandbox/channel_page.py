"""The /sandbox page and the small JSON API its script uses to read the channel and act as a person."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.channel_activities import (
    SANDBOX_BOT_ID,
    SANDBOX_BOT_NAME,
    SANDBOX_CHANNEL_NAME,
    SANDBOX_TEAM_NAME,
    personal_conversation_id,
)
from sandbox.channel_state import ChannelState

STATIC_DIR = Path(__file__).with_name("static")
MAX_WAIT_SECONDS = 25.0
NO_CACHE = {"Cache-Control": "no-store"}

StateGetter = Callable[[web.Request], ChannelState]


def activity_view(state: ChannelState, activity: dict[str, Any], oid: str) -> dict[str, Any]:
    """One activity as the page draws it for this person (their card override wins)."""
    activity_id = str(activity.get("id"))
    sender = activity.get("from") or {}
    deleted = activity_id in state.deleted
    cards, overridden = state.cards_for(activity, oid)
    others = [
        {"contentType": a.get("contentType"), "name": a.get("name")}
        for a in activity.get("attachments") or []
        if a.get("contentType") not in ("application/vnd.microsoft.card.adaptive", "text/html")
    ]
    return {
        "id": activity_id,
        "conversationId": (activity.get("conversation") or {}).get("id"),
        "from": {"id": sender.get("id"), "name": sender.get("name") or SANDBOX_BOT_NAME},
        "isBot": str(sender.get("id", SANDBOX_BOT_ID)).startswith("28:"),
        "timestamp": activity.get("timestamp"),
        "text": "" if deleted else activity.get("text") or "",
        "textFormat": activity.get("textFormat") or "markdown",
        "cards": [] if deleted else cards,
        "overridden": overridden and not deleted,
        "otherAttachments": [] if deleted else others,
        "deleted": deleted,
        "edited": activity_id in state.edited,
    }


def _sign_in_view(state: ChannelState, oid: str) -> dict[str, str] | None:
    pending = state.pending_signins.get(oid) if oid else None
    return {"link": pending.link, "text": pending.text} if pending else None


def state_view(state: ChannelState, oid: str) -> dict[str, Any]:
    me = state.person(oid) if oid else None
    return {
        "version": state.version,
        "me": oid,
        "meTeamsId": me.teams_id if me else None,
        "people": [{"id": p.oid, "name": p.name, "role": p.role, "upn": p.upn} for p in state.pickable_people()],
        # Whom the page's "undo containment" controls can act on: the seed's people with no Riposte role.
        "targets": [{"upn": p.upn, "name": p.name} for p in state.people if p.role is None],
        "canRevert": bool(state.tenant_url),
        "bot": {"id": SANDBOX_BOT_ID, "name": SANDBOX_BOT_NAME},
        "team": {"name": SANDBOX_TEAM_NAME},
        "channel": {"name": SANDBOX_CHANNEL_NAME},
        "botConnected": bool(state.bot_base_url),
        "threads": [
            {
                "id": thread["id"],
                "root": activity_view(state, thread["root"], oid),
                "replies": [activity_view(state, reply, oid) for reply in thread["replies"]],
            }
            for thread in state.threads()
        ],
        "chatConversationId": personal_conversation_id(oid) if oid else None,
        # A sign-in this person must do by the link (single sign-on did not work), as Teams shows it.
        "signIn": _sign_in_view(state, oid),
        "chat": [activity_view(state, activity, oid) for activity in state.chat(oid)],
    }


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as error:
        raise web.HTTPBadRequest(text="body is not JSON") from error
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise web.HTTPBadRequest(text=f"{key!r} must be a non-empty string")
    return value


def page_routes(state_of: StateGetter) -> list[web.AbstractRouteDef]:
    async def page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "sandbox.html", headers=NO_CACHE)

    async def root(request: web.Request) -> web.Response:
        raise web.HTTPFound("/sandbox")

    async def favicon(request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def get_state(request: web.Request) -> web.Response:
        state = state_of(request)
        oid = request.query.get("user") or ""
        if "since" in request.query:
            try:
                since = int(request.query["since"])
                wait = min(float(request.query.get("wait", "0")), MAX_WAIT_SECONDS)
            except ValueError as error:
                raise web.HTTPBadRequest(text="since and wait must be numbers") from error
            if wait > 0:
                await state.wait_for_change(since, wait)
        return web.json_response(state_view(state, oid), headers=NO_CACHE)

    async def click(request: web.Request) -> web.Response:
        state = state_of(request)
        body = await _json_object(request)
        data = body.get("data")
        if body.get("actionType") == "Action.Submit":
            status, answer = await state.send_submit(
                _text(body, "user"), _text(body, "conversationId"), _text(body, "activityId"), data
            )
        else:
            status, answer = await state.send_invoke(
                _text(body, "user"),
                _text(body, "conversationId"),
                _text(body, "activityId"),
                _text(body, "verb"),
                data if isinstance(data, dict) else {},
                title=str(body.get("title") or ""),
                trigger="automatic" if body.get("trigger") == "automatic" else "manual",
            )
        return web.json_response({"status": status, "body": answer})

    async def message(request: web.Request) -> web.Response:
        state = state_of(request)
        body = await _json_object(request)
        user = _text(body, "user")
        conversation_id = body.get("conversationId") or None
        if body.get("personal"):
            person = state.person(user)
            if person is None:
                raise web.HTTPBadRequest(text=f"unknown user {user!r}")
            conversation_id = personal_conversation_id(person.oid)
        if conversation_id is not None and not isinstance(conversation_id, str):
            raise web.HTTPBadRequest(text="conversationId must be a string or null")
        status, answer = await state.send_message(user, _text(body, "text"), conversation_id)
        return web.json_response({"status": status, "body": answer})

    async def sample_alert(request: web.Request) -> web.Response:
        status, answer = await state_of(request).send_sample_alert()
        return web.json_response({"status": status, "body": answer})

    async def revert(request: web.Request) -> web.Response:
        """The page's "undo containment" controls: relayed to the sandbox tenant's POST /_sandbox/revert."""
        body = await _json_object(request)
        _text(body, "what")
        _text(body, "user")
        status, answer = await state_of(request).revert(body)
        return web.json_response({"status": status, "body": answer})

    return [
        web.get("/", root),
        web.get("/favicon.ico", favicon),
        web.get("/sandbox", page),
        web.get("/sandbox/", page),
        web.get("/sandbox/api/state", get_state),
        web.post("/sandbox/api/click", click),
        web.post("/sandbox/api/message", message),
        web.post("/sandbox/api/sample-alert", sample_alert),
        web.post("/sandbox/api/revert", revert),
        web.static("/sandbox/static", STATIC_DIR),
    ]
