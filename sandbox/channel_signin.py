"""The Teams client's part of signing in, as the sandbox channel plays it (Teams docs: "SSO for Adaptive Cards
Universal Actions", "Add SSO to a bot"):

- a click answered 401 `application/vnd.microsoft.activity.loginRequest`: Teams gets its own token for the card's
  tokenExchangeResource (the sandbox tenant's Teams session stands for that) and sends the same click again with
  `value.authentication {id, connectionName, token}`; when there is no exchange resource, or the bot answers 412, it
  falls back to the card's sign-in link, which the page shows the person; once they signed in there, Teams sends the
  click again with `value.state` (the magic code);
- an OAuth card the bot posts (botbuilder's OAuthPrompt, for a typed command): Teams exchanges silently with a
  `signin/tokenExchange` invoke; if that fails the card's sign-in link is shown, and a finished sign-in comes back as
  a `signin/verifyState` invoke.
Teams' own token is fetched per attempt and never kept."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from sandbox.channel_activities import Person, channel_data, envelope, invoke_id

if TYPE_CHECKING:
    from sandbox.channel_state import ChannelState

LOGIN_REQUEST = "application/vnd.microsoft.activity.loginRequest"
OAUTH_CARD = "application/vnd.microsoft.card.oauth"


@dataclass
class PendingSignIn:
    """A sign-in a person has to do by the link (single sign-on did not work): shown on their page."""

    link: str
    text: str
    invoke: dict[str, Any] | None = None  # the click to send again once signed in; None: an OAuth card's prompt
    conversation_id: str = ""


def is_login_request(status: int, body: Any) -> bool:
    return status == 200 and isinstance(body, dict) and body.get("statusCode") == 401 and body.get(
        "type") == LOGIN_REQUEST and isinstance(body.get("value"), dict)


def _sign_in_link(card: dict[str, Any]) -> str:
    for button in card.get("buttons") or []:
        if isinstance(button, dict) and button.get("type") == "signin":
            return str(button.get("value") or "")
    return ""


async def teams_token(state: ChannelState, person: Person, audience: str) -> str | None:
    """The token Teams holds for the bot's app id URI (the sandbox tenant's stand-in for Teams' own session)."""
    if not state.tenant_url or not audience:
        return None
    try:
        async with state.http().post(f"{state.tenant_url.rstrip('/')}/_sandbox/teams-sso",
                                     json={"user": person.oid, "audience": audience}) as response:
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    token = answer.get("token") if isinstance(answer, dict) else None
    return token if isinstance(token, str) else None


async def answer_login_request(state: ChannelState, person: Person, invoke: dict[str, Any],
                               answer: dict[str, Any]) -> tuple[int, Any]:
    """The bot asked `person` to sign in for this click: single sign-on first, else the link (pending)."""
    card = answer["value"]
    resource = card.get("tokenExchangeResource") if isinstance(card.get("tokenExchangeResource"), dict) else None
    status, body = 200, answer
    token = await teams_token(state, person, str(resource.get("uri") or "")) if resource else None
    if resource and token:
        again = copy.deepcopy(invoke)
        again["id"] = invoke_id()
        again["value"]["authentication"] = {"id": resource.get("id"), "connectionName": card.get("connectionName"),
                                            "token": token}
        status, body = await state.deliver_invoke(person, again)
        if not is_login_request(status, body) and not _precondition_failed(body):
            state.pending_signins.pop(person.oid, None)
            return status, body
    state.pending_signins[person.oid] = PendingSignIn(_sign_in_link(card), str(card.get("text") or ""), invoke)
    state.changed()
    return status, body


def _precondition_failed(body: Any) -> bool:
    return isinstance(body, dict) and body.get("statusCode") == 412


async def answer_oauth_cards(state: ChannelState, person: Person) -> None:
    """The OAuth cards the bot just posted to `person`: exchange silently, else show their sign-in link."""
    while state.oauth_prompts:
        conversation_id, activity = state.oauth_prompts.pop(0)
        for attachment in activity.get("attachments") or []:
            if attachment.get("contentType") != OAUTH_CARD or not isinstance(attachment.get("content"), dict):
                continue
            card = attachment["content"]
            resource = card.get("tokenExchangeResource") if isinstance(card.get("tokenExchangeResource"),
                                                                       dict) else None
            token = await teams_token(state, person, str(resource.get("uri") or "")) if resource else None
            if resource and token:
                value = {"id": resource.get("id"), "connectionName": card.get("connectionName"), "token": token}
                status, _ = await state.deliver_invoke(person, _sign_in_invoke(
                    state, person, conversation_id, "signin/tokenExchange", value))
                if status == 200:
                    continue
            state.pending_signins[person.oid] = PendingSignIn(_sign_in_link(card), str(card.get("text") or ""),
                                                              conversation_id=conversation_id)
            state.changed()


def _sign_in_invoke(state: ChannelState, person: Person, conversation_id: str, name: str,
                    value: dict[str, Any]) -> dict[str, Any]:
    return {"type": "invoke", "name": name, "id": invoke_id(),
            **envelope(person, conversation_id, state.service_url or "http://127.0.0.1/"),
            "channelData": channel_data(conversation_id, person.tenant_id), "value": value}


async def finish(state: ChannelState, teams_user_id: str, magic_code: str) -> str:
    """A sign-in by the link finished: Teams sends the click again with the code (or, for an OAuth card,
    signin/verifyState). Returns what the sign-in page tells the person."""
    person = state.person(teams_user_id)
    pending = state.pending_signins.pop(person.oid, None) if person else None
    if person is None or pending is None:
        return "Signed in. Go back to Teams and click the button again."
    state.changed()
    if pending.invoke is None:
        status, _ = await state.deliver_invoke(person, _sign_in_invoke(
            state, person, pending.conversation_id, "signin/verifyState", {"state": magic_code}))
        return "Signed in; you can close this window." if status == 200 else f"The bot answered {status}."
    again = copy.deepcopy(pending.invoke)
    again["id"] = invoke_id()
    again["value"].pop("authentication", None)
    again["value"]["state"] = magic_code
    status, body = await state.deliver_invoke(person, again)
    if is_login_request(status, body):
        return "The bot asked to sign in again: click the button in Teams again."
    return "Signed in; Teams sent your click again. You can close this window."
