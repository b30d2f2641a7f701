"""Administrator detection fails closed: without a role-reading permission Graph hides which directory roles a
user holds (200, roles with only type and id), and Riposte then counts the user as an administrator."""

from __future__ import annotations

from typing import Any

import aiohttp

from sandbox.tenant import ROLE_READ_PERMISSIONS
from tests.conftest import RunningBot
from tests.e2e.helpers import (
    ADMIN_RESPONDER,
    ALICE,
    RESPONDER,
    SAMPLE_ALERT,
    USERS,
    audit_entries,
    buttons,
    card_of,
    card_text,
    channel,
    posted_card,
    tenant,
    wait_until,
)

SID = USERS["sid.secadmin"]["id"]  # a Security Administrator


async def withhold_role_permissions(bot: RunningBot) -> None:
    """Through the sandbox's control route, as the sandbox page would: the app keeps every other permission."""
    async with aiohttp.ClientSession() as session, session.put(
        f"{bot.sandbox.tenant.url}/_sandbox/permissions", json={"withheld": sorted(ROLE_READ_PERMISSIONS)}
    ) as response:
        assert response.status == 200, await response.text()


async def click(bot: RunningBot, user: str, root: dict[str, Any], verb: str) -> str:
    conversation_id = channel(bot).threads()[-1]["id"]
    data = buttons(card_of(root))[verb]["data"]
    status, answer = await channel(bot).send_invoke(user, conversation_id, root["id"], verb, data)
    assert status == 200, answer
    return card_text(answer["value"])


async def test_a_hidden_role_counts_as_admin_and_the_refusal_names_the_missing_permission(
    bot: RunningBot, clean_redis: str
) -> None:
    await withhold_role_permissions(bot)
    case_id, root = await posted_card(bot, {**SAMPLE_ALERT, "id": "hidden-role", "user": "sid.secadmin@contoso.com"})
    assert "RoleManagement.Read.Directory (or Directory.Read.All)" in card_text(card_of(root))

    text = await click(bot, RESPONDER, root, "disable_account")

    assert "acting on an administrator needs the admin_responder role" in text, text
    assert "RoleManagement.Read.Directory (or Directory.Read.All)" in text
    assert tenant(bot).mutations() == []
    assert tenant(bot).users[SID]["accountEnabled"] is True
    assert [e["phase"] for e in await audit_entries(clean_redis, case_id)] == ["refused"]


async def test_an_admin_responder_is_stopped_too_since_the_last_global_admin_check_cannot_run(
    bot: RunningBot,
) -> None:
    # The hidden role might be Global Administrator: the last-GA check asks Graph, which refuses without the
    # permission, so nothing runs and the card says what to grant.
    await withhold_role_permissions(bot)
    _, root = await posted_card(bot, {**SAMPLE_ALERT, "id": "hidden-role-ar", "user": "sid.secadmin@contoso.com"})

    text = await click(bot, ADMIN_RESPONDER, root, "disable_account")

    assert "Not done: Graph refused to" in text and "RoleManagement.Read.Directory" in text, text
    assert tenant(bot).mutations() == []


async def test_a_user_with_no_directory_role_is_still_an_ordinary_user(bot: RunningBot) -> None:
    await withhold_role_permissions(bot)
    _, root = await posted_card(bot, {**SAMPLE_ALERT, "id": "no-role-hidden"})
    assert "Admin roles" not in card_text(card_of(root))

    await click(bot, RESPONDER, root, "revoke_sessions")

    await wait_until(lambda: any(r.path == f"/users/{ALICE}/revokeSignInSessions" for r in tenant(bot).requests),
                     what="the revoke on an ordinary user")
