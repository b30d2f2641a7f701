"""Typed commands: parse, check the role, resolve the user, and answer with a card to confirm (nothing runs
before Confirm), a status card, the audit trail, or help. Returns what to post; the handler posts it."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from actions import ACTIONS
from actions.audit import actor_fields, entry
from actions.errors import NotFound, RiposteError
from actions.relations import kept_originals
from actions.runner import Refused
from actions.spec import Actor, TargetUser
from bot.access.permission import permit_verb
from bot.access.roles import RoleCheckFailed
from bot.audit.view import audit_view
from bot.automation import chat as automation_chat
from bot.cards.alert_card import alert_card, message_card
from bot.cards.views import CaseState
from bot.clicks.answered import Turn
from bot.commands.parse import Command, CommandError, for_chat, help_text, parse_command, safe_echo
from bot.commands.table import AUTOMATION_VERBS
from bot.intake import alert_channel
from bot.intake.alerts import Alert
from bot.intake.handle import new_case_id
from bot.services import Card, Services
from bot.signin.tokens import TokenService
from bot.state import per_user
from bot.state.cases import Case, record_key
from bot.watch.schedule import release
from bot.watch.status import case_of_user, status_card
from bot.watch.store import WatchStore

log = logging.getLogger(__name__)
OTHER_TENANT = ("This message comes from another tenant than the one Riposte serves, so nothing was looked up or "
                "done.")


@dataclass(frozen=True)
class Speaker:
    """Who typed, from the authenticated activity, and where."""

    object_id: str
    name: str
    channel_id: str  # channelData.channel.id, empty outside a channel
    service_url: str
    tenant_id: str  # channelData.tenant.id
    personal: bool = False  # a 1:1 chat with the bot: the only place it hears a plain reply
    team_id: str = ""  # channelData.team.id: the alert channel is forgotten when the bot leaves this team


@dataclass
class Reply:
    text: str = ""
    card: Card | None = None
    case_id: str = ""  # the card is a case card: remember where it was posted
    ask_user: str = ""  # the command lacked only its user: ask for it (a dialog), e.g. "revoke"


def mention_hint(syntax: str) -> str:
    """In a channel or group chat Teams delivers only messages that @mention the bot, so a question answered by
    a plain reply would never be heard: say how to type the whole command instead."""
    return (f"`{syntax}` needs a user. Here I only hear messages that mention me, so type it in one message: "
            f"`@Riposte {syntax} USER`, e.g. `@Riposte {syntax} alice@contoso.com` (UPN or Entra object id).")


def _error_reply(error: CommandError) -> Reply:
    text = for_chat(error.message)
    if error.suggestion:
        text += f" Did you mean `{for_chat(error.suggestion)}`?"
    return Reply(text=text)


async def refuse_other_tenant(services: Services, speaker: Speaker) -> Reply | None:
    """A message from another tenant than the one served is refused before anything else, as a click is: the
    activity is authenticated, but any tenant that installs the bot can send one, and a command (or the answer
    to "which user?") would look the target up and show their facts."""
    expected = services.settings.tenant_id
    if not expected or speaker.tenant_id == expected:
        return None
    log.warning("refused a command from another tenant (%r) by %s", speaker.tenant_id[:64], speaker.object_id)
    # before any look-up: nothing about a person from another tenant is asked of this tenant's Entra
    await services.audit.record(entry("refused", "command", Actor(speaker.object_id, speaker.name),
                                      result="refused",
                                      detail=f"command from another tenant ({speaker.tenant_id[:64]!r})"))
    return Reply(card=message_card(OTHER_TENANT, "attention"))


async def handle_text(services: Services, speaker: Speaker, text: str, turn: Turn,
                      tokens: TokenService | None = None) -> Reply:
    """The reply to post (answer now); what follows it goes to `turn.later`. `tokens`: the speaker's sign-in at the
    token service (delegated mode with an OAuth connection), for `sign out`."""
    try:
        return await _handle_text(services, speaker, text, turn, tokens)
    except (RoleCheckFailed, Refused) as error:
        return Reply(text=str(error))


async def _handle_text(services: Services, speaker: Speaker, text: str, turn: Turn,
                       tokens: TokenService | None) -> Reply:
    parsed = parse_command(text)
    if isinstance(parsed, CommandError):
        if parsed.missing_user:
            if speaker.personal:
                return Reply(ask_user=parsed.missing_user)
            return Reply(text=mention_hint(parsed.missing_user))
        return _error_reply(parsed)
    if parsed.verb in AUTOMATION_VERBS:  # checks the role itself: refusals to switch automation are audited
        return Reply(text=await automation_chat.handle(services, parsed.verb, speaker.object_id, speaker.name, turn))
    actor = await permit_verb(services, parsed.verb, speaker.object_id, speaker.name, turn)
    if parsed.verb == "help":
        return Reply(text=help_text(services.policy.enabled))
    if parsed.verb == "sign_out":
        return await _sign_out(services, actor, tokens)
    if parsed.verb == "use_channel":
        return await _use_channel(services, speaker, actor)
    if parsed.verb == "audit":
        return await _audit(services, parsed)
    if parsed.verb == "release":
        return await _release(services, parsed, actor)
    return await _case_command(services, parsed, actor)


async def _sign_out(services: Services, actor: Actor, tokens: TokenService | None) -> Reply:
    """`sign out`: drop the speaker's token at the token service (Riposte keeps none itself); audited."""
    if tokens is None:
        return Reply(text="Riposte signs nobody in here (every action runs with its own app rights), so there is "
                          "nothing to sign out of.")
    try:
        await tokens.sign_out()
    except RiposteError as error:
        return Reply(text=f"Could not sign you out: {error}")
    await services.audit.record_event("signed_out", **actor_fields(actor), result="signed out")
    return Reply(text="Signed out: the next action that runs with your own Entra rights asks you to sign in again.")


async def _release(services: Services, command: Command, actor: Actor) -> Reply:
    """`release <user>`: stop watching the user's open case (what the case card's Release button does)."""
    assert command.user is not None
    try:
        target = await services.tenant.get_user(command.user)
    except RiposteError as error:
        return Reply(text=f"Could not look up {safe_echo(command.user)}: {error}")
    watch = await WatchStore(services.redis).get(target.id)
    if watch is None:
        return Reply(text=f"{safe_echo(target.display_name)} is not being watched: nothing to release.")
    return Reply(text=await release(services, watch.case_id, actor))


async def _use_channel(services: Services, speaker: Speaker, actor: Actor) -> Reply:
    if not speaker.channel_id:
        return Reply(text="Type this in the Teams channel that should receive alerts, not in a chat.")
    before, _ = await alert_channel.current(services)
    await alert_channel.remember(services, speaker.channel_id, speaker.service_url, actor.name, speaker.team_id)
    await services.audit.record_event(
        "alert_channel_changed", **actor_fields(actor), state_before=before or "(none)",
        state_after=speaker.channel_id, result="ok", detail="use this channel for alerts",
    )
    log.info("%s made %s the alert channel", actor.name, speaker.channel_id)
    return Reply(text=f"Done: new alerts will be posted in this channel (set by {safe_echo(actor.name)}).")


async def _audit(services: Services, command: Command) -> Reply:
    target = await _audit_target(services, command.user) if command.user else None
    subject = command.case_id or command.user or ""
    return Reply(card=await audit_view(services, subject, case_id=command.case_id, target=target))


async def _audit_target(services: Services, user: str) -> str:
    """Entries name their target by object id and UPN; a mail address is neither, so ask the tenant whose it is."""
    if "@" not in user:
        return user
    try:
        return (await services.tenant.get_user(user)).id
    except RiposteError as error:  # e.g. a deleted user: their entries still carry the UPN typed
        log.info("audit: %s not resolved (%s); matching it as typed", user, error)
        return user


async def _case_command(services: Services, command: Command, actor: Actor) -> Reply:
    assert command.user is not None
    status = command.verb == "status"
    offered = tuple(name for name in command.spec.actions if services.policy.enabled(name))
    if command.spec.actions and not offered and not status:  # before any look-up: there is nothing to offer
        reasons = " ".join(filter(None, (services.policy.why_disabled(name) for name in command.spec.actions)))
        return Reply(text=f"{command.spec.refusal_label} is not available here. {reasons} Nothing was looked up "
                          "or done.")
    try:
        target = await services.tenant.get_user(command.user)
    except NotFound:
        return Reply(text=f"No such user in this tenant: {safe_echo(command.user)}. Check the address, or use the "
                          "Entra object id.")
    except RiposteError as error:
        return Reply(text=f"Could not look up {safe_echo(command.user)}: {error}")
    if status:  # the user's case as its card reads now, not a new case each time
        current = await case_of_user(services, target)
        if current is not None:
            return Reply(card=await status_card(services, target, *current))
    if target.on_premises_sync and not status:  # sync can undo e.g. a disable: offer what it cannot undo too
        alternatives = [alternative for name in offered if (spec := ACTIONS[name]).on_synced
                        and services.policy.enabled(alternative := spec.on_synced.alternative)]
        offered = tuple(dict.fromkeys((*offered, *alternatives)))
    titles = ", ".join(ACTIONS[name].title for name in offered if name in ACTIONS)
    alert = Alert(
        id=f"chat-{secrets.token_hex(6)}", source="chat", severity="informational", user=target.id,
        title=f"Status of {target.display_name}" if status else f"Confirm: {titles} for {target.display_name}?",
        description="" if status else _what_will_happen(offered, target),
        detected_at=datetime.now(UTC).isoformat(timespec="seconds"),
        category=f"typed by {actor.name}", requested_by=actor.id,
    )
    case = Case(id=new_case_id(), alert=alert, nonce=secrets.token_urlsafe(12),
                created_at=alert.detected_at, target=target, offered=offered,
                kind="status" if status else "command")
    await services.cases.save(case)
    for name in case.offered:  # an undo of what is kept per user (unblock: the block policy), from any case
        for original in kept_originals(name):
            copy = await per_user.known(services, original, target.id)
            if copy:
                await services.cases.save_removed(case.id, record_key(original.name), copy)
    state = CaseState(case, {}, saved_keys=await services.cases.saved_keys(case.id))
    return Reply(card=alert_card(services.painter.view(state)), case_id=case.id)


def _what_will_happen(offered: tuple[str, ...], target: TargetUser) -> str:
    specs = [ACTIONS[name] for name in offered]  # registered: the case offers nothing else
    warnings = [spec.on_synced.warning for spec in specs if spec.on_synced]
    parts = list(dict.fromkeys(warnings)) if target.on_premises_sync else []
    for spec in specs:
        reversible = "reversible" if spec.reversible else "NOT reversible"
        parts.append(f"{spec.title}: {spec.description} ({reversible}: {spec.reversal})")
    return "Nothing runs until you press Confirm. " + " ".join(parts)
