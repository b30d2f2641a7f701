"""Shared by the sign-in tests: who is who in the sandbox for delegated mode, and where tokens must never be."""

from __future__ import annotations

import json
from typing import Any

from sandbox.seed import load_seed
from tests.conftest import BotFactory, RunningBot
from tests.e2e.helpers import USERS, channel, tenant
from tests.e2e.test_reset_password import redis_dump

GROUPS = {group["displayName"]: group["id"] for group in load_seed()["groups"]}
RITA = USERS["rita.responder"]["id"]  # responder
AVERY = USERS["avery.approver"]["id"]  # approver; Helpdesk Administrator in Entra
ADA = USERS["ada.adminresponder"]["id"]  # admin responder; Privileged Authentication Administrator in Entra
NOLAN = USERS["nolan.norole"]["id"]
GRACE = USERS["grace.admin"]["id"]  # Global Administrator: the administrator acted on
ALICE = USERS["alice"]["id"]
BREAKGLASS = USERS["breakglass"]["id"]
GRACE_UPN, ALICE_UPN = "grace.admin@contoso.com", "alice@contoso.com"
ADA_UPN, AVERY_UPN = "ada.adminresponder@contoso.com", "avery.approver@contoso.com"
ON_ADMINS = "Privileged Authentication Administrator or Global Administrator"


async def two_admin_responders(make_bot: BotFactory, **overrides: Any) -> RunningBot:
    """Rita an admin responder too (she asks), Ada an approver too (she approves, holding the Entra role)."""
    return await make_bot(
        admin_responder_groups=[GROUPS["Riposte Admin Responders"], GROUPS["Riposte Responders"]],
        approver_groups=[GROUPS["Riposte Approvers"], GROUPS["Riposte Admin Responders"]], **overrides)


def answers(bot: RunningBot, person: str, verb: str) -> list[int | None]:
    """The status codes the bot answered this person's clicks on `verb` with, in order (sign-in answers too)."""
    return [code for oid, name, seen, code in channel(bot).invoke_answers
            if oid == person and name == "adaptiveCard/action" and seen == verb]


def writes_by(bot: RunningBot, path: str) -> list[tuple[str, str]]:
    """(method, caller) of each write the tenant received on `path`."""
    return [(r.method, r.caller) for r in tenant(bot).requests if r.method != "GET" and r.path == path]


def tokens_issued(bot: RunningBot) -> list[str]:
    """Every token the sandbox issued for a person: the Graph tokens and Teams' own single-sign-on tokens."""
    state = tenant(bot)
    return [*state.delegated_tokens, *state.sso_tokens]


async def assert_no_token_anywhere(bot: RunningBot, redis_url: str, logged: str, audit: list[dict[str, str]]) -> None:
    tokens = tokens_issued(bot)
    assert tokens, "no token was issued: the check would pass vacuously"
    dump = await redis_dump(redis_url)
    posts = json.dumps(channel(bot).received)  # every post, reply and card update the bot made
    stored = json.dumps([a for c in channel(bot).conversations.values() for a in c.activities])
    for token in tokens:
        assert token not in dump, "a token is in Redis"
        assert token not in json.dumps(audit), "a token is in the audit"
        assert token not in posts and token not in stored, "a token went to a channel"
        assert token not in logged, "a token is in the log"
