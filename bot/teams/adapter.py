"""botbuilder's CloudAdapter and the Teams channel (posting and updating cards through the Bot Connector).

botbuilder and msrest are imported only in bot/teams/ and bot/dialogs/ (tests/test_layers.py): a move to the
Microsoft 365 Agents SDK stays small.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from botbuilder.core import Bot, CardFactory, MessageFactory, TurnContext, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ChannelAccount, ConversationParameters, ConversationReference
from msrest.exceptions import DeserializationError
from msrest.serialization import Serializer
from msrest.universal_http.requests import ClientRetryPolicy
from urllib3.util.retry import Retry

from bot.cards.elements import CardJson
from bot.clicks.answered import ANSWER_BUDGET_SECONDS, Turn
from bot.config import Settings
from bot.metrics import Metrics
from bot.pipeline.limiter import Priority, TeamsLimiter
from bot.run.inflight import InFlight
from bot.teams.connector import call_connector, send_budget, status_of
from bot.teams.inbound import BadActivity, parse_activity
from bot.teams.token_client import BotAuthentication

log = logging.getLogger(__name__)
T = TypeVar("T")
AUTH_REFUSED = "invalid or missing Bot Framework token"
TURN = "riposte.turn"  # TurnContext.turn_state key: the Turn being answered (bot.clicks.answered)

# botbuilder builds a ConnectorClient per activity, and msrest's ClientRetryPolicy.__init__ filters range(999)
# against a 500-element *list*: ~7 ms of CPU each time. A set makes the same filter ~100x cheaper.
ClientRetryPolicy.safe_codes = frozenset(ClientRetryPolicy.safe_codes)


def _no_retries(self: ClientRetryPolicy) -> Retry:
    return Retry(0, read=False)  # requests' own default


# bot/teams/connector.py retries Bot Connector calls on Teams' terms. msrest's urllib3 policy would retry beneath it
# (5xx and connection errors 3 times without jitter, never 429) and turn an exhausted 502 into a RetryError.
ClientRetryPolicy.__call__ = _no_retries

# msrest walks a card node by node (~5 ms for a full case card) each time a card is sent or returned; cards built
# by bot.cards are plain JSON by construction (CardJson), so they pass through as they are.
_serialize_object = Serializer.serialize_object
_serialize_dict = Serializer.serialize_dict


def _serialize_object_fast(self: Serializer, attr: Any, **kwargs: Any) -> Any:
    if type(attr) is CardJson:
        return attr
    return _serialize_object(self, attr, **kwargs)


def _serialize_dict_fast(self: Serializer, attr: Any, dict_type: str, **kwargs: Any) -> Any:
    if type(attr) is CardJson:  # an invoke response's card value is typed as a dict of objects
        return attr
    return _serialize_dict(self, attr, dict_type, **kwargs)


Serializer.serialize_object = _serialize_object_fast
Serializer.serialize_dict = _serialize_dict_fast


class _BotAuthConfig:
    """The attribute names botbuilder's ConfigurationBotFrameworkAuthentication reads."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.microsoft_app_id
        self.APP_PASSWORD = settings.microsoft_app_password.get_secret_value()
        self.APP_TYPE = settings.app_type
        self.APP_TENANTID = settings.microsoft_app_tenant_id


def build_adapter(settings: Settings) -> CloudAdapter:
    # User token clients (sign-in for privileged actions) are built on first use, against OAuthUrl when set.
    adapter = CloudAdapter(BotAuthentication(_BotAuthConfig(settings), settings.oauth_url))

    async def on_error(context: TurnContext, error: Exception) -> None:
        error_id = secrets.token_hex(4)
        log.error("unhandled error in a turn (error id %s)", error_id, exc_info=error)
        if context.activity.type == "message":
            try:
                await context.send_activity(f"Something went wrong (error id {error_id}, in the bot's log).")
            except Exception as send_error:  # e.g. the Bot Connector is what failed: the turn is already logged
                log.warning("could not tell the sender about error %s: %s", error_id, send_error)

    adapter.on_turn_error = on_error
    return adapter


async def process_request(adapter: CloudAdapter, request: web.Request, bot: Bot,
                          inflight: InFlight, answer_budget_seconds: float = ANSWER_BUDGET_SECONDS,
                          ) -> web.StreamResponse:
    """POST /api/messages: check the body is an activity, authenticate it (the JWT, when an app id is set), then
    run the turn. What botbuilder's CloudAdapter.process does, with bad input answered 400/401 instead of 500.
    The handler finds the Turn in `turn_state[TURN]`: what it hands to `turn.later` starts after the answer."""
    turn = Turn(inflight, answer_budget_seconds)
    try:
        response = await _answer(adapter, request, bot, turn)
        # Written here rather than by aiohttp after we return, so that the turn's later work starts only once the
        # answer is on the wire.
        await response.prepare(request)
        await response.write_eof()
        return response
    finally:
        turn.answer_sent()  # also when the turn failed: nothing must wait on it for long


def _refuse(request: web.Request, status: int, message: str, detail: str = "") -> web.Response:
    # One line, no traceback: bad input is the caller's problem, not the bot's.
    log.warning("refused an activity from %s with %d: %s%s", request.remote, status, message,
                f" ({detail})" if detail else "")
    return web.json_response({"error": message}, status=status)


async def _answer(adapter: CloudAdapter, request: web.Request, bot: Bot, turn: Turn) -> web.StreamResponse:
    if "application/json" not in request.headers.get("Content-Type", ""):
        return _refuse(request, 415, "Content-Type must be application/json")
    try:
        # Parsed once, here: botbuilder's own path would parse it again with request.json().
        activity = Activity().deserialize(parse_activity(await request.read()))
    except BadActivity as error:
        return _refuse(request, 400, str(error))
    except (DeserializationError, RecursionError) as error:
        return _refuse(request, 400, "body is not a Bot Framework activity", _first_line(error))
    try:
        authenticated = await adapter.bot_framework_authentication.authenticate_request(
            activity, request.headers.get("Authorization", "")
        )
    except PermissionError:
        return _refuse(request, 401, AUTH_REFUSED, "botbuilder refused the token")
    except OSError as error:  # requests' errors are OSErrors: Bot Framework's signing keys could not be fetched
        return _refuse(request, 503, "cannot validate Bot Framework tokens right now", _first_line(error))
    except Exception as error:
        # botbuilder lets malformed or forged tokens escape as assorted errors (a KeyError for a token without
        # `iss`, PyJWT's errors, a bare Exception for a failed endorsement): each is an authentication failure.
        return _refuse(request, 401, AUTH_REFUSED, f"{type(error).__name__}: {_first_line(error)}")
    async def logic(context: TurnContext) -> None:
        context.turn_state[TURN] = turn
        await bot.on_turn(context)

    invoke_response = await adapter.process_activity(authenticated, activity, logic)
    if invoke_response:
        return web.json_response(serializer_helper(invoke_response.body), status=invoke_response.status)
    return web.Response(status=201)


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0][:200] if str(error) else ""


class TeamsChannel:
    """Implements bot.services.Channel over the Bot Connector REST API; every call goes through
    bot.teams.connector.call_connector (retries on Teams' terms)."""

    def __init__(self, adapter: CloudAdapter, settings: Settings, tenant_id: str, limiter: TeamsLimiter,
                 metrics: Metrics) -> None:
        self._adapter = adapter
        self._app_id = settings.microsoft_app_id
        self._service_url = settings.service_url
        self._tenant_id = tenant_id
        self._limiter = limiter
        self._metrics = metrics

    def _limited(self, conversation_id: str, priority: Priority, call: Callable[[], Awaitable[T]],
                 turn: Turn | None = None) -> Callable[[], Awaitable[T]]:
        """`call` taking a send slot within Teams' limits first (each attempt is a send); while a click waits
        for its answer (`turn`), only as long as the answer can wait."""

        async def attempt() -> T:
            deadline = time.monotonic() + send_budget(turn) if turn and turn.waiting else None
            await self._limiter.acquire(conversation_id, priority, deadline)
            try:
                return await call()
            except Exception as error:
                self._metrics.count("riposte_teams_sends_total", result=str(status_of(error) or "error"))
                raise
            finally:
                self._metrics.count("riposte_teams_send_attempts_total", priority=priority.value)

        return attempt

    async def post_thread(
        self, channel_id: str, card: dict[str, Any] | Callable[[], Awaitable[dict[str, Any]]], service_url: str,
        priority: Priority = Priority.BULK,
    ) -> tuple[dict[str, Any], str]:
        posted: dict[str, Any] = {}

        async def remember(context: TurnContext) -> None:
            reference = TurnContext.get_conversation_reference(context.activity)
            posted["reference"] = reference.serialize()
            posted["activity_id"] = context.activity.id

        async def create() -> None:  # runs once the send slot is taken
            drawn = card if isinstance(card, dict) else await card()
            parameters = ConversationParameters(
                is_group=True,
                bot=ChannelAccount(id=f"28:{self._app_id}") if self._app_id else None,
                channel_data={"channel": {"id": channel_id}, "tenant": {"id": self._tenant_id}},
                activity=MessageFactory.attachment(CardFactory.adaptive_card(drawn)),
                tenant_id=self._tenant_id,
            )
            await self._adapter.create_conversation(
                self._app_id, remember, parameters, "msteams", service_url or self._service_url, None)

        await call_connector(f"channel {channel_id}", self._limited(channel_id, priority, create), repeatable=False)
        return posted["reference"], posted["activity_id"]

    async def reply(self, reference: dict[str, Any], card: dict[str, Any] | str,
                    priority: Priority = Priority.INTERACTIVE) -> str:
        """Post `card` (or plain text) into the thread of `reference`; return the new message's id."""
        posted: dict[str, str] = {}

        async def send(context: TurnContext) -> None:  # a new activity each attempt: sending fills it in
            message = MessageFactory.text(card) if isinstance(card, str) else MessageFactory.attachment(
                CardFactory.adaptive_card(card))
            response = await context.send_activity(message)
            posted["id"] = response.id if response else ""

        await self._in_conversation(reference, send, priority, repeatable=False)
        return posted.get("id", "")

    async def update_card(self, reference: dict[str, Any], activity_id: str,
                          card: dict[str, Any] | Callable[[], Awaitable[dict[str, Any]]],
                          priority: Priority = Priority.INTERACTIVE, turn: Turn | None = None) -> None:
        async def replace(context: TurnContext) -> None:  # runs once the send slot is taken
            drawn = card if isinstance(card, dict) else await card()
            activity = MessageFactory.attachment(CardFactory.adaptive_card(drawn))
            activity.id = activity_id
            await context.update_activity(activity)

        await self._in_conversation(reference, replace, priority, turn=turn)

    async def _in_conversation(self, reference: dict[str, Any], work: Callable[[TurnContext], Awaitable[None]],
                               priority: Priority, *, repeatable: bool = True, turn: Turn | None = None) -> None:
        """Run `work` in the conversation of `reference`, raising its error: botbuilder would hand it to
        on_turn_error and return as if it had worked."""
        conversation = ConversationReference().deserialize(reference)
        failed: list[Exception] = []

        async def run(context: TurnContext) -> None:
            try:
                await work(context)
            except Exception as error:
                failed.append(error)

        async def attempt() -> None:
            failed.clear()
            await self._adapter.continue_conversation(conversation, run, self._app_id)
            if failed:
                raise failed[0]

        await call_connector(f"conversation {conversation.conversation.id}",
                             self._limited(conversation.conversation.id, priority, attempt, turn),
                             repeatable=repeatable, turn=turn)
