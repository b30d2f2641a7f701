"""An action the policy file switches off (`enabled = false`), over the sandbox: no button on the case card, a
command that would offer only it is refused before anything is looked up, a button drawn before the policy changed
is refused, automation never runs it, and the Block user bundle leaves it out."""

from __future__ import annotations

from pathlib import Path

from bot.endpoints import SERVICES
from tests.conftest import BotFactory, RunningBot
from tests.e2e.card_clicks import CaseThread
from tests.e2e.helpers import (
    ALICE,
    RESPONDER,
    SAMPLE_ALERT,
    audit_entries,
    buttons,
    card_of,
    card_text,
    case_thread_root,
    channel,
    jobs_done,
    post_alert,
    tenant,
    wait_until,
)
from tests.e2e.test_commands_chat import reply_text, say_in_channel

REVOKE_OFF = "[actions.revoke_sessions]\nenabled = false\n"
SWITCHED_OFF = "Revoke sessions is switched off in this deployment (`enabled = false` under [actions.revoke_sessions]"


async def bot_with(make_bot: BotFactory, tmp_path: Path, policy: str, **settings: object) -> RunningBot:
    path = tmp_path / "policy.toml"
    path.write_text(policy, encoding="utf-8")
    return await make_bot(policy_file=str(path), **settings)


def revokes(bot: RunningBot) -> int:
    return sum(1 for r in tenant(bot).requests if r.path.endswith("/revokeSignInSessions"))


async def test_a_command_offering_only_a_switched_off_action_is_refused_before_any_look_up(
    make_bot: BotFactory, tmp_path: Path
) -> None:
    bot = await bot_with(make_bot, tmp_path, REVOKE_OFF + "[actions.block_signin]\nenabled = false\n")
    before = len(tenant(bot).requests)
    text = reply_text(await say_in_channel(bot, RESPONDER, "revoke alice@contoso.com"))
    assert text.startswith("`revoke` is not available here. " + SWITCHED_OFF), text
    assert text.endswith("Nothing was looked up or done.")
    # Only the responder's own roles and UPN (the role check) were read.
    about_target = [r for r in tenant(bot).requests[before:] if RESPONDER not in r.path]
    assert about_target == [], "nothing about the target was looked up"
    # Disabling a synced account also offers Block sign-in (sync undoes a disable), unless that is off.
    confirm = card_of((await say_in_channel(bot, RESPONDER, "disable sam.synced@contoso.com"))["replies"][-1])
    assert set(buttons(confirm)) == {"disable_account", "cancel"}
    # `status` shows the account with the buttons that are on.
    status = card_of((await say_in_channel(bot, RESPONDER, "status alice@contoso.com"))["replies"][-1])
    assert "revoke_sessions" not in buttons(status) and "disable_account" in buttons(status)


async def test_the_case_card_has_no_button_for_it_and_an_older_button_is_refused(
    make_bot: BotFactory, tmp_path: Path, clean_redis: str
) -> None:
    bot = await bot_with(make_bot, tmp_path, REVOKE_OFF)
    thread = await CaseThread.open(bot)
    assert thread.find("revoke_sessions") is None and thread.find("disable_account") is not None
    # A card drawn before the policy switched it off still carries a signed Revoke sessions button.
    services = bot.app[SERVICES]
    case = await services.cases.get(thread.case_id)
    assert case is not None
    data = services.signer.data(case.id, "revoke_sessions", case.nonce)
    status, answer = await channel(bot).send_invoke(RESPONDER, thread.conversation_id, thread.root_id,
                                                    "revoke_sessions", data)
    assert status == 200 and f"⛔ Not done: {SWITCHED_OFF}" in card_text(answer["value"])
    await jobs_done(bot)
    assert revokes(bot) == 0
    refused = [e for e in await audit_entries(clean_redis, thread.case_id) if e["phase"] == "refused"]
    assert [(e["action"], e["actor_id"]) for e in refused] == [("revoke_sessions", RESPONDER)]


async def test_automation_never_runs_a_switched_off_action(make_bot: BotFactory, tmp_path: Path) -> None:
    # The default rule runs RIPOSTE_AUTOMATION_ACTIONS (revoke_sessions), which the policy file switches off.
    bot = await bot_with(make_bot, tmp_path, REVOKE_OFF, automation_enabled=True,
                         automation_actions=["revoke_sessions", "disable_account"])
    status, body = await post_alert(bot, {**SAMPLE_ALERT, "id": "confident", "confidence": "high",
                                          "severity": "critical"})
    assert status == 202
    await case_thread_root(bot, body["case_id"])

    def acted() -> str:
        text = card_text(card_of(channel(bot).threads()[-1]["root"]))
        return text if "Disable account: done by Riposte automation" in text and "Not automated" in text else ""

    text = await wait_until(acted, what="automation to disable the account")
    assert f"Not automated: Revoke sessions: {SWITCHED_OFF}" in text
    await jobs_done(bot)
    assert revokes(bot) == 0
    assert tenant(bot).users[ALICE]["accountEnabled"] is False


async def test_block_user_leaves_out_a_switched_off_step(make_bot: BotFactory, tmp_path: Path) -> None:
    bot = await bot_with(make_bot, tmp_path, "[actions.remove_forwarding]\nenabled = false\n")
    thread = await CaseThread.open(bot)
    assert "step_remove_forwarding" not in card_text(thread.card())
    text = await thread.run("block_user", done="steps succeeded")
    assert "3 of 3 steps succeeded" in text, text
    assert not [r for r in tenant(bot).requests if r.cmdlet == "Set-Mailbox"], "forwarding left alone"
    assert revokes(bot) == 1 and tenant(bot).users[ALICE]["accountEnabled"] is False


async def test_help_leaves_out_a_command_whose_actions_are_all_switched_off(
    make_bot: BotFactory, tmp_path: Path
) -> None:
    bot = await bot_with(make_bot, tmp_path, REVOKE_OFF)
    text = reply_text(await say_in_channel(bot, RESPONDER, "help"))
    assert "- `revoke USER`" not in text  # its only action is off: typing it is refused, so help does not offer it
    assert "- `disable USER`" in text and "- `block USER`" in text  # block still runs its other steps
