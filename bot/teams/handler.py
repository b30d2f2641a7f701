"""The Teams activity handler: turns activities into flows. Identity comes only from the activity."""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from botbuilder.core import CardFactory, InvokeResponse, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler, TeamsSSOTokenExchangeMiddleware
from botbuilder.schema import Activity, AdaptiveCardInvokeResponse, ChannelAccount
from redis.exceptions import RedisError

from actions import ACTIONS
from bot.cards.alert_card import message_card
from bot.clicks.answered import Turn
from bot.clicks.handle import STATE_STORE_DOWN, Click, handle_click
from bot.commands import handle as command_flow
from bot.commands.parse import help_text
from bot.dialogs.ask_user import AskUser
from bot.dialogs.sign_in import SignInFirst
from bot.intake import alert_channel
from bot.pipeline import sends
from bot.services import Services
from bot.signin.handle import typed_sign_in
from bot.signin.tokens import ClickSignIn, SignInAnswer
from bot.state import deliveries
from bot.teams.adapter import TURN
from bot.teams.storage import RedisStorage
from bot.teams.user_tokens import ExchangeOnce, TurnTokens, sign_in_response

log = logging.getLogger(__name__)
SERVICE_URL_REWRITE_SECONDS = 60.0
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SIGN_IN_INVOKES = ("signin/tokenExchange", "signin/verifyState")  # a typed command's sign-in card, answered by Teams
WELCOME = ("Riposte is here. I post security alerts with buttons to contain an account, and I take commands: "
           "mention me and type `help`. A responder can type `use this channel for alerts` in the channel that "
           "should receive alerts.")


def card_response(card: dict[str, Any]) -> InvokeResponse:
    # A model, not a dict: botbuilder 4.17 serialises the body itself (a dict here answers 500).
    body = AdaptiveCardInvokeResponse(status_code=200, type=CARD_CONTENT_TYPE, value=card)
    return InvokeResponse(status=200, body=body)


def _tenant_of(activity: Activity) -> str:
    channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = (channel_data.get("tenant") or {}).get("id") or getattr(activity.conversation, "tenant_id", "")
    return str(tenant or "")


def _turn(turn_context: TurnContext) -> Turn:
    """The Turn being answered (bot.teams.adapter.process_request puts it there)."""
    turn: Turn = turn_context.turn_state[TURN]
    return turn


def _click(activity: Activity, verb: str, data: dict[str, Any], signin: ClickSignIn | None = None) -> Click:
    sender = activity.from_property
    return Click(
        object_id=str(getattr(sender, "aad_object_id", "") or ""),
        name=str(getattr(sender, "name", "") or "someone"),
        verb=verb, data=data, tenant_id=_tenant_of(activity), signin=signin,
    )


def _click_signin(turn_context: TurnContext, value: dict[str, Any], connection: str) -> ClickSignIn | None:
    """What a Universal Actions click brings for sign-in (bot/signin): Teams sends the click again with
    value.authentication (a token to exchange) or value.state (the code of a finished sign-in)."""
    if not connection:
        return None
    authentication = value.get("authentication")
    teams_token = authentication.get("token") if isinstance(authentication, dict) else None
    state = value.get("state")
    return ClickSignIn(tokens=TurnTokens(turn_context, connection),
                       teams_token=teams_token if isinstance(teams_token, str) else "",
                       code=state if isinstance(state, str) else "")


def _well_formed(activity: Activity) -> bool:
    """A sign-in invoke botbuilder can read: an object, and for a token exchange its id and token."""
    value = activity.value
    if not isinstance(value, dict):
        return False
    return activity.name != SIGN_IN_INVOKES[0] or all(isinstance(value.get(key), str) and value[key]
                                                      for key in ("id", "token"))


class RiposteBot(TeamsActivityHandler):  # type: ignore[misc]
    def __init__(self, services: Services) -> None:
        super().__init__()
        self._services = services
        self._ask_user = AskUser(RedisStorage(services.redis))
        # Delegated mode: a typed command's sign-in card (botbuilder's OAuthPrompt), and botbuilder's middleware that
        # exchanges Teams' token once per exchange id, however many Teams clients the person has open.
        connection = services.settings.oauth_connection
        self._sign_in = SignInFirst(RedisStorage(services.redis), connection) if connection else None
        self._sso = TeamsSSOTokenExchangeMiddleware(ExchangeOnce(services.redis), connection) if connection else None
        # The service URL this process last wrote to Redis, and when: not rewritten on every click. Redis holds
        # the truth for all replicas; this only spares the click path a write (refreshed each minute anyway).
        self._service_url_written = ("", 0.0)

    async def on_turn(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        # Messages only: a click (invoke) Teams repeats is already run once by its per-action claim.
        if activity.type == "message" and not await self._first_delivery(turn_context):
            return
        await self._learn_service_url(activity)
        if self._sso is not None and activity.type == "invoke" and activity.name == SIGN_IN_INVOKES[0] and _well_formed(
                activity):  # a malformed one is refused below: botbuilder's middleware would crash on it
            await self._sso.on_turn(turn_context, lambda: TeamsActivityHandler.on_turn(self, turn_context))
            return
        await super().on_turn(turn_context)

    async def _learn_service_url(self, activity: Activity) -> None:
        """Threads Riposte starts (alerts) go to the service URL Teams last used with us (RIPOSTE_SERVICE_URL
        until then). Only from the tenant we serve: the activity is authenticated, but any tenant can send one."""
        expected = self._services.settings.tenant_id
        if not activity.service_url or (expected and _tenant_of(activity) != expected):
            return
        url, now = str(activity.service_url), time.monotonic()
        written, at = self._service_url_written
        if url == written and now - at < SERVICE_URL_REWRITE_SECONDS:
            return
        try:
            await alert_channel.learn_service_url(self._services, url)
        except RedisError:
            log.warning("could not remember the service URL %s", url)
            return
        self._service_url_written = (url, now)

    async def _first_delivery(self, turn_context: TurnContext) -> bool:
        activity = turn_context.activity
        conversation_id = str(getattr(activity.conversation, "id", "") or "")
        try:
            first = await deliveries.first_delivery(self._services.redis, conversation_id, str(activity.id or ""))
        except RedisError:
            log.exception("state store unreachable while checking a message for a repeated delivery")
            await turn_context.send_activity(STATE_STORE_DOWN)
            return False
        if not first:
            log.info("ignored Teams' repeated delivery of message %s", activity.id)
        return first

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if activity.name in SIGN_IN_INVOKES and self._sign_in is not None:
            if not _well_formed(activity):
                log.info("refused a malformed %s invoke", activity.name)
                return InvokeResponse(status=400)
            signed_in = await self._sign_in.continue_invoke(turn_context)  # the prompt answers the invoke itself
            if signed_in:
                await turn_context.send_activity("You are signed in: Confirm runs with your own Entra rights.")
            return InvokeResponse(status=404 if signed_in is None else 200)  # 404: no sign-in card pending here
        if activity.name != "adaptiveCard/action":
            # Riposte implements no other invoke. 501 is what botbuilder answers for an invoke a bot does not
            # handle; answered here, because its Teams dispatch first deserializes the value (task/fetch,
            # composeExtension/..., fileConsent/...) and turns a malformed one into an error with a traceback.
            log.info("answered 501 to an unhandled invoke %r", str(activity.name or "")[:80])
            return InvokeResponse(status=501)
        # Raw value: botbuilder's typed AdaptiveCardInvokeValue drops fields Teams sends (trigger).
        value = activity.value if isinstance(activity.value, dict) else {}
        action = value.get("action")
        action = action if isinstance(action, dict) else {}
        raw_data = action.get("data")
        signin = _click_signin(turn_context, value, self._services.settings.oauth_connection)
        click = _click(activity, str(action.get("verb", "")), raw_data if isinstance(raw_data, dict) else {}, signin)
        if not click.object_id:
            return card_response(message_card("This click carries no Entra identity, so nothing ran.", "attention"))
        try:
            return card_response(await handle_click(self._services, click, _turn(turn_context)))
        except SignInAnswer as answer:  # the run needs the clicker's own token: Teams signs them in, then clicks again
            return sign_in_response(answer)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if isinstance(activity.value, dict) and activity.value.get("verb") and not (activity.text or "").strip():
            await self._submit_fallback(turn_context, activity.value)
            return
        TurnContext.remove_recipient_mention(activity)
        sender = activity.from_property
        object_id = str(getattr(sender, "aad_object_id", "") or "")
        if not object_id:
            await self._answer(turn_context, text="I can't tell who you are (no Entra identity), so I won't act.")
            return
        channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        speaker = command_flow.Speaker(
            object_id=object_id, name=str(getattr(sender, "name", "") or "someone"),
            channel_id=str((channel_data.get("channel") or {}).get("id") or ""),
            service_url=str(activity.service_url or ""), tenant_id=_tenant_of(activity),
            personal=getattr(activity.conversation, "conversation_type", None) == "personal",
            team_id=str((channel_data.get("team") or {}).get("id") or ""),
        )
        try:
            # Before the dialog too: its answer is a user to look up.
            reply = await command_flow.refuse_other_tenant(self._services, speaker)
            if reply is None:
                handled, completed = await self._ask_user.continue_pending(turn_context)
                if handled and completed is None:
                    return  # a pending question was answered with cancel, or asked again
                settings = self._services.settings  # `sign out` needs the speaker's sign-in (delegated mode)
                tokens = TurnTokens(turn_context, settings.oauth_connection) \
                    if settings.oauth_connection and settings.delegated else None
                reply = await command_flow.handle_text(self._services, speaker, completed or activity.text or "",
                                                       _turn(turn_context), tokens)
            if reply.ask_user:
                await self._ask_user.start(turn_context, reply.ask_user)
                return
        except RedisError:
            log.exception("state store unreachable while handling a command")
            await turn_context.send_activity(STATE_STORE_DOWN)
            return
        await self._answer(turn_context, card=reply.card, text=reply.text, case_id=reply.case_id)
        if reply.case_id and self._sign_in is not None:  # Confirm will run with this person's own token
            why = await typed_sign_in(self._services, reply.case_id)
            if why:
                await self._sign_in.start(turn_context, why)

    async def _answer(self, turn_context: TurnContext, *, card: dict[str, Any] | None = None, text: str = "",
                      case_id: str = "") -> None:
        """Answer a message through the outbox: a durable job, within Teams' limits, retried until Teams takes it
        (bot/pipeline/sends.py). Sent directly, once, only when Redis cannot take the job."""
        activity = turn_context.activity
        reference = TurnContext.get_conversation_reference(activity).serialize()
        conversation_id = str(getattr(activity.conversation, "id", "") or "")
        dedupe = f"answer:{conversation_id}:{activity.id or secrets.token_hex(8)}"
        try:
            await sends.answer_message(self._services, dedupe, reference, card=card, text=text, case_id=case_id)
        except RedisError:
            log.warning("could not queue the answer to message %s (Redis); sending it directly", activity.id)
            if card is not None:
                await turn_context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))
            if text:
                await turn_context.send_activity(MessageFactory.text(text))

    async def _submit_fallback(self, turn_context: TurnContext, value: dict[str, Any]) -> None:
        """Clients without Universal Actions send Action.Submit: same checks, answer as a new message.

        That message is seen by everyone in the conversation, so nothing that can answer with a secret (a
        temporary password, directly or through an approval) runs this way."""
        verb = str(value["verb"])
        click = _click(turn_context.activity, verb, {key: val for key, val in value.items() if key != "verb"})
        if not click.object_id:
            await self._answer(turn_context, text="This click carries no Entra identity, so nothing ran.")
            return
        spec = ACTIONS.get(verb)
        if verb == "approve" or (spec is not None and spec.inline):
            await self._answer(turn_context, text=(
                "This button needs a Teams client that supports Universal Actions (new Teams, or Teams on the "
                "web); nothing ran. Its answer is shown only to you, which an older client cannot do."
            ))
            return
        # Seen by everyone in the conversation (it is a new message), so never a secret: nothing inline runs here.
        await self._answer(turn_context, card=await handle_click(self._services, click, _turn(turn_context)))

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        await self._left_team(turn_context, "the app was uninstalled from the team")

    async def on_teams_members_removed(
        self, members_removed: list[ChannelAccount], team_info: Any, turn_context: TurnContext
    ) -> None:
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else ""
        if any(member.id == bot_id for member in members_removed):
            await self._left_team(turn_context, "the bot was removed from the team")

    async def _left_team(self, turn_context: TurnContext, why: str) -> None:
        activity = turn_context.activity
        if self._services.settings.tenant_id and _tenant_of(activity) != self._services.settings.tenant_id:
            return  # only our tenant's Teams may make us forget our channel
        channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        team_id = str((channel_data.get("team") or {}).get("id") or "")
        forgotten = await alert_channel.forget_team(self._services, team_id, why)
        if forgotten:
            log.warning("alert channel %s forgotten: %s; alerts stay queued until a channel is chosen again",
                        forgotten, why)

    async def on_teams_members_added(
        self, members_added: list[ChannelAccount], team_info: Any, turn_context: TurnContext
    ) -> None:
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else ""
        if any(member.id == bot_id for member in members_added):
            await self._answer(turn_context, text=WELCOME + "\n\n" + help_text(self._services.policy.enabled))
