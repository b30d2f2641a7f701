"""The Bot Connector v3 REST routes, answering the bot the way the Teams service does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web

from sandbox.channel_activities import (
    SANDBOX_CHANNEL_ID,
    SANDBOX_TEAM_AAD_GROUP_ID,
    SANDBOX_TEAM_ID,
    SANDBOX_TEAM_NAME,
)
from sandbox.channel_limits import thread_of
from sandbox.channel_state import ChannelState
from sandbox.faults import Fault

StateGetter = Callable[[web.Request], ChannelState]
TOKEN_SERVICE_PREFIXES = ("/api/usertoken/", "/api/botsignin/")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


# Teams' messages for a bot that cannot post into a conversation (msteams-docs bots/build-conversational-capability
# and rate-limit pages list the codes).
TEAMS_MESSAGES = {
    "BotNotInConversationRoster": "The bot is not part of the conversation roster.",
    "ConversationBlockedByUser": "User blocked the conversation with the bot.",
    "BotDisabledByAdmin": "The tenant admin disabled this bot.",
    "ConversationNotFound": "Conversation not found.",
}


def _fault_response(fault: Fault) -> web.Response:
    if fault.code == "MessageWritesBlocked":
        # The body Teams documents for a bot removed from (or blocked in) the conversation: not the usual envelope.
        details = {"subCode": "MessageWritesBlocked", "details": "Thread is blocked from message writes.",
                   "errorCode": None, "errorSubCode": None}
        return web.json_response({"errorCode": 209, "message": json.dumps(details, indent=2)},
                                 status=fault.status, headers=fault.headers())
    code = fault.code or HTTPStatus(fault.status).phrase.replace(" ", "")
    message = fault.message or TEAMS_MESSAGES.get(code, "The sandbox injected a failure.")
    return web.json_response({"error": {"code": code, "message": message}}, status=fault.status,
                             headers=fault.headers())


def _no_conversation() -> web.Response:
    return _error(404, "ConversationNotFound", "Conversation not found.")


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()  # aiohttp caches this, so the recorder and the handler both may read
    try:
        parsed = json.loads(raw) if raw.strip() else {}
    except ValueError as error:
        raise web.HTTPBadRequest(text=f"body is not JSON: {error}") from error
    if not isinstance(parsed, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return parsed


def _send_thread(request: web.Request, body: Any) -> str:
    """The thread a Bot Connector send draws on (a new channel thread counts as its channel), or "" for reads."""
    if request.method not in ("POST", "PUT"):
        return ""
    if request.path.rstrip("/") == "/v3/conversations":
        channel = ((body or {}).get("channelData") or {}).get("channel") or {} if isinstance(body, dict) else {}
        return str(channel.get("id") or "personal")
    parts = request.path.split("/")
    return thread_of(parts[3]) if len(parts) > 4 and parts[4] == "activities" else ""


def connector_routes(state_of: StateGetter) -> tuple[list[web.AbstractRouteDef], Callable[..., Any]]:
    """The /v3 routes plus a middleware recording each connector request in `state.received` and answering it
    with an injected fault (`state.add_fault`) when one matches."""

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v3/"):
            state = state_of(request)
            raw = await request.read()
            try:
                body: Any = json.loads(raw) if raw.strip() else None
            except ValueError:
                body = raw.decode(errors="replace")
            state.received.append({"method": request.method, "path": request.path, "body": body})
            fault = state.faults.take(request.method, request.path, body=raw.decode(errors="replace"))
            if fault is not None:
                await fault.slow_down()
                if fault.status:
                    return _fault_response(fault)
            thread = _send_thread(request, body)
            if state.send_limits is not None and thread and not state.send_limits.allow(thread):
                return _error(429, "Throttled", "Too many requests: the bot is over Teams' send limit.")
            if fault is not None and fault.hold:
                answer = await handler(request)  # done: the message is in the channel for everyone to see
                await asyncio.sleep(fault.hold)  # but the bot hears of it only now (if it is still there)
                return answer
        elif request.path.startswith(TOKEN_SERVICE_PREFIXES):
            # The token service: faults apply (a test makes an exchange fail); nothing recorded (it carries tokens).
            raw = await request.read()
            fault = state_of(request).faults.take(request.method, request.path, body=raw.decode(errors="replace"))
            if fault is not None:
                await asyncio.sleep(fault.delay)
                if fault.status:
                    return _fault_response(fault)
        return await handler(request)

    async def create_conversation(request: web.Request) -> web.Response:
        state = state_of(request)
        params = await _body(request)
        activity = params.get("activity")
        service_url = state.service_url
        if params.get("isGroup") or (params.get("channelData") or {}).get("channel"):
            channel_id = ((params.get("channelData") or {}).get("channel") or {}).get("id")
            if channel_id != SANDBOX_CHANNEL_ID:
                return _no_conversation()
            if not isinstance(activity, dict):
                return _error(400, "BadArgument", "A channel post needs an activity.")
            conversation_id, root_id = state.create_thread(activity)
            return web.json_response(
                {"id": conversation_id, "activityId": root_id, "serviceUrl": service_url}, status=201
            )
        # A 1:1 chat with one member, as the bot opens to message someone privately.
        members = params.get("members") or []
        person = state.person(str(members[0].get("id") or members[0].get("aadObjectId"))) if members else None
        if person is None or len(members) != 1:
            return _error(404, "MemberNotFound", "The user is not a member of this tenant.")
        conversation = state.personal_conversation(person.oid)
        answer: dict[str, Any] = {"id": conversation.id, "serviceUrl": service_url}
        if isinstance(activity, dict):
            answer["activityId"] = state.post(conversation.id, activity)
        return web.json_response(answer, status=201)

    async def send(request: web.Request) -> web.Response:
        new_id = state_of(request).post(request.match_info["conversation_id"], await _body(request))
        return _no_conversation() if new_id is None else web.json_response({"id": new_id}, status=201)

    async def reply(request: web.Request) -> web.Response:
        new_id = state_of(request).post(
            request.match_info["conversation_id"], await _body(request), request.match_info["activity_id"]
        )
        return _no_conversation() if new_id is None else web.json_response({"id": new_id}, status=201)

    async def update(request: web.Request) -> web.Response:
        activity_id = request.match_info["activity_id"]
        if not state_of(request).update(activity_id, await _body(request)):
            return _error(404, "ActivityNotFound", "Activity not found.")
        return web.json_response({"id": activity_id})

    async def delete(request: web.Request) -> web.Response:
        if not state_of(request).delete(request.match_info["activity_id"]):
            return _error(404, "ActivityNotFound", "Activity not found.")
        return web.json_response({})

    async def members(request: web.Request) -> web.Response:
        found = state_of(request).members(request.match_info["conversation_id"])
        if found is None:
            return _no_conversation()
        return web.json_response([p.member() for p in found])

    async def paged_members(request: web.Request) -> web.Response:
        found = state_of(request).members(request.match_info["conversation_id"])
        if found is None:
            return _no_conversation()
        return web.json_response({"members": [p.member() for p in found]})

    async def member(request: web.Request) -> web.Response:
        state = state_of(request)
        found = state.members(request.match_info["conversation_id"])
        if found is None:
            return _no_conversation()
        wanted = state.person(request.match_info["member_id"])
        if wanted is None or wanted not in found:
            return _error(404, "MemberNotFound", "The member is not in this conversation.")
        return web.json_response(wanted.member())

    async def team(request: web.Request) -> web.Response:
        if request.match_info["team_id"] != SANDBOX_TEAM_ID:
            return _error(404, "NotFound", "Team not found.")
        return web.json_response(
            {
                "id": SANDBOX_TEAM_ID,
                "name": SANDBOX_TEAM_NAME,
                "aadGroupId": SANDBOX_TEAM_AAD_GROUP_ID,
                "channelCount": 1,
                "memberCount": len(state_of(request).people),
            }
        )

    async def team_channels(request: web.Request) -> web.Response:
        if request.match_info["team_id"] != SANDBOX_TEAM_ID:
            return _error(404, "NotFound", "Team not found.")
        # Teams gives the General channel no name; clients show "General".
        return web.json_response({"conversations": [{"id": SANDBOX_CHANNEL_ID, "name": None}]})

    base = "/v3/conversations/{conversation_id}"
    routes: list[web.AbstractRouteDef] = [
        web.post("/v3/conversations", create_conversation),
        web.post(f"{base}/activities", send),
        web.post(f"{base}/activities/{{activity_id}}", reply),
        web.put(f"{base}/activities/{{activity_id}}", update),
        web.delete(f"{base}/activities/{{activity_id}}", delete),
        web.get(f"{base}/members", members),
        web.get(f"{base}/members/{{member_id}}", member),
        web.get(f"{base}/pagedmembers", paged_members),
        web.get("/v3/teams/{team_id}", team),
        web.get("/v3/teams/{team_id}/conversations", team_channels),
    ]
    return routes, record
