"""Who may use which verb, over the sandbox channel: the policy's defaults and a policy file's override, and a
refusal that says which role is missing."""

from __future__ import annotations

import json
from pathlib import Path

import redis.asyncio as redis_async

from tests.conftest import BotFactory, RunningBot
from tests.e2e.helpers import ADMIN_RESPONDER, APPROVER, NO_ROLE, RESPONDER, buttons, card_of, card_text, channel
from tests.e2e.test_commands_chat import reply_text, say_in_channel

USE_CHANNEL = "use this channel for alerts"


async def chosen_channel(redis_url: str) -> dict[str, str] | None:
    client = redis_async.Redis.from_url(redis_url, decode_responses=True)
    try:
        raw = await client.get("riposte:alert-channel")
        return json.loads(raw) if raw else None
    finally:
        await client.aclose()


async def test_a_responder_without_admin_responder_cannot_redirect_the_alerts(
    bot: RunningBot, clean_redis: str
) -> None:
    text = reply_text(await say_in_channel(bot, RESPONDER, USE_CHANNEL))
    assert "Choosing the alert channel needs the admin_responder role; Rita Responder does not hold it." in text
    assert "new alerts will be posted" not in text
    assert await chosen_channel(clean_redis) is None, "nothing was remembered"

    text = reply_text(await say_in_channel(bot, ADMIN_RESPONDER, USE_CHANNEL))
    assert "new alerts will be posted in this channel (set by Ada Admin-Responder)" in text
    chosen = await chosen_channel(clean_redis)
    assert chosen is not None and chosen["set_by"] == "Ada Admin-Responder"


async def test_a_policy_file_gives_the_verb_back_to_responders(
    make_bot: BotFactory, clean_redis: str, tmp_path: Path
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[verbs.use_channel]\nrole = "responder"\n\n[verbs.audit]\nrole = "admin_responder"\n',
                    encoding="utf-8")
    bot = await make_bot(policy_file=str(path))
    assert "new alerts will be posted in this channel" in reply_text(await say_in_channel(bot, RESPONDER, USE_CHANNEL))
    text = reply_text(await say_in_channel(bot, RESPONDER, "audit alice@contoso.com"))
    assert "`audit` needs the admin_responder role; Rita Responder does not hold it." in text


async def test_someone_without_a_role_is_told_which_role_a_command_needs(bot: RunningBot) -> None:
    text = reply_text(await say_in_channel(bot, NO_ROLE, "disable alice@contoso.com"))
    assert "`disable` needs the responder role; Nolan Norole does not hold it." in text
    assert "Nolan Norole holds no Riposte role" in text


async def test_whoever_typed_a_command_may_cancel_its_card_and_another_responder_may_too(bot: RunningBot) -> None:
    for canceller, name in ((RESPONDER, "Rita Responder"), (ADMIN_RESPONDER, "Ada Admin-Responder")):
        thread = await say_in_channel(bot, RESPONDER, "disable alice@contoso.com")
        reply = thread["replies"][-1]
        cancel = buttons(card_of(reply))["cancel"]["data"]
        _, answer = await channel(bot).send_invoke(canceller, thread["id"], reply["id"], "cancel", cancel)
        assert f"Cancelled by {name}" in card_text(answer["value"])


async def test_the_requester_may_cancel_even_when_the_policy_reserves_cancel_for_admin_responders(
    make_bot: BotFactory, tmp_path: Path
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[verbs.cancel]\nrole = "admin_responder"\n', encoding="utf-8")
    bot = await make_bot(policy_file=str(path))
    thread = await say_in_channel(bot, RESPONDER, "disable alice@contoso.com")
    reply = thread["replies"][-1]
    cancel = buttons(card_of(reply))["cancel"]["data"]
    _, answer = await channel(bot).send_invoke(APPROVER, thread["id"], reply["id"], "cancel", cancel)
    assert "Cancelling needs the admin_responder role; Avery Approver does not hold it." in card_text(answer["value"])
    _, answer = await channel(bot).send_invoke(RESPONDER, thread["id"], reply["id"], "cancel", cancel)
    assert "Cancelled by Rita Responder" in card_text(answer["value"])
