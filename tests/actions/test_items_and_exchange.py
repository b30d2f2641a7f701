"""Item listings (per-item buttons), who has a mailbox, the Exchange admin client, and the registry's table."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from actions import ACTIONS
from actions.errors import NotFound, PermissionMissing, RiposteError, Throttled
from actions.items import LISTERS, find_item, list_items
from tests.actions.conftest import ALICE_UPN, BREAKGLASS_UPN, PAT_UPN, SAM_UPN, Env

pytestmark = pytest.mark.asyncio(loop_scope="module")

DOCS = Path(__file__).resolve().parents[2] / "docs"


async def test_get_user_tells_who_has_a_mailbox(env: Env) -> None:
    assert (await env.target(ALICE_UPN)).has_mailbox
    assert (await env.target(SAM_UPN)).has_mailbox
    assert not (await env.target(PAT_UPN)).has_mailbox, "guest without a mailbox"
    assert not (await env.target(BREAKGLASS_UPN)).has_mailbox, "cloud-only admin without a licence"


async def test_a_failed_mailbox_check_keeps_the_mailbox_actions(env: Env) -> None:
    env.state.add_fault(method="GET", path_regex="/mailboxSettings$", status=403)
    assert (await env.target(ALICE_UPN)).has_mailbox, "the actions then fail with their own clear error"


async def test_items_of_every_kind(env: Env) -> None:
    ctx = env.context(await env.target())
    apps = await list_items("app", ctx)
    assert [(a.label, a.detail["grantId"]) for a in apps] == [
        ("Mail Sync Pro (Mail.ReadWrite Mail.Send offline_access)", "Z3JhbnQtYWxpY2UtbWFpbHN5bmM")]
    assert "send mail as the user" in apps[0].suspicious and "publisher not verified" in apps[0].suspicious

    teams = await list_items("teams_app", ctx)
    assert [(t.label, t.id) for t in teams] == [("Sketchy Notes", "NDQ1ZjgzYjItYjNlMC00ZjI0LWI2OGYtNjZhZDJhZmI0ZmJl")]

    methods = await list_items("auth_method", ctx)
    assert [m.label for m in methods] == ["Phone (mobile) +1 2065550199", "Microsoft Authenticator: Alice's iPhone"]
    assert methods[1].suspicious == "", "registered long ago"

    holders = await list_items("mailbox_permission", ctx)
    assert [h.id for h in holders] == ["mallory@contoso.com"], "NT AUTHORITY\\SELF is left out"

    rules = await list_items("transport_rule", ctx)
    assert [r.id for r in rules] == ["Copy finance mail out"]

    inbox = await list_items("inbox_rule", ctx)
    assert [bool(r.suspicious) for r in inbox] == [True, True, False]
    assert not env.state.mutations(), "listing changes nothing"

    assert (await find_item("inbox_rule", "AQAAAJ5dZqC=", ctx)).label == "Newsletters"
    with pytest.raises(RiposteError, match="no longer there"):
        await find_item("inbox_rule", "gone", ctx)
    with pytest.raises(RiposteError, match="cannot list"):
        await list_items("printer", ctx)


async def test_every_item_kind_has_a_lister() -> None:
    assert {spec.item_kind for spec in ACTIONS.values() if spec.item_kind} <= set(LISTERS)


# --- ExchangeAdmin ----------------------------------------------------------------------------------


async def test_exchange_returns_the_output_and_the_request_id(env: Env) -> None:
    output, request_id = await env.exchange.invoke("Get-Mailbox", {"Identity": ALICE_UPN})
    assert output[0]["ForwardingSmtpAddress"] == "smtp:invoices@evil.example"
    assert request_id
    [request] = env.state.requests
    assert request.path.endswith("/InvokeCommand") and request.cmdlet == "Get-Mailbox"


async def test_exchange_output_longer_than_a_page_is_followed_to_the_end(env: Env) -> None:
    env.state.transport_rules.extend({"Identity": f"Rule {n}", "Name": f"Rule {n}", "State": "Enabled",
                                      "Priority": n} for n in range(1, 5))
    env.state.exchange_page_size = 2

    output, _ = await env.exchange.invoke("Get-TransportRule", {})

    assert [rule["Name"] for rule in output] == ["Copy finance mail out", *(f"Rule {n}" for n in range(1, 5))]
    assert [r.cmdlet for r in env.state.requests] == ["Get-TransportRule"] * 3  # three pages
    assert not env.state.exchange_pages, "every page was fetched"


async def test_exchange_throttling_is_retried_after_a_fractional_retry_after(env: Env) -> None:
    env.state.add_fault(cmdlet="Get-Mailbox", status=429, times=2, retry_after="0.15")
    started = time.monotonic()
    output, _ = await env.exchange.invoke("Get-Mailbox", {"Identity": ALICE_UPN})
    waited = time.monotonic() - started
    assert output and len(env.state.requests) == 3
    assert 0.28 <= waited < 3, f"Retry-After 0.15 twice should wait about 0.3 s, waited {waited:.2f}s"


async def test_exchange_throttling_that_does_not_stop_gives_up_after_three_retries(env: Env) -> None:
    env.state.add_fault(cmdlet="Get-Mailbox", status=429, times=None, retry_after="0.01")
    with pytest.raises(Throttled, match="kept throttling"):
        await env.exchange.invoke("Get-Mailbox", {"Identity": ALICE_UPN})
    assert len(env.state.requests) == 4


async def test_exchange_errors_are_translated(env: Env) -> None:
    env.state.add_fault(cmdlet="Set-Mailbox", status=403)
    with pytest.raises(PermissionMissing, match=r"Exchange\.ManageAsApp permission and the Exchange Admin"):
        await env.exchange.invoke("Set-Mailbox", {"Identity": ALICE_UPN, "DeliverToMailboxAndForward": False})
    with pytest.raises(NotFound, match="couldn't be found") as missing:
        await env.exchange.invoke("Get-Mailbox", {"Identity": "nobody@contoso.com"})
    assert missing.value.request_id


# --- the registry and its table -------------------------------------------------------------------


async def test_the_registry_is_complete_and_consistent() -> None:
    for name, spec in ACTIONS.items():
        assert spec.name == name and spec.permission and spec.reversal and spec.description, name
        if spec.undo:
            assert spec.undo in ACTIONS, name
        if spec.needs_saved:
            assert any(other.undo == name for other in ACTIONS.values()), f"nothing saves for {name}"


async def test_the_docs_table_is_generated_from_the_registry() -> None:
    spec = importlib.util.spec_from_file_location("gen_actions_table", DOCS / "gen_actions_table.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    table = str(generator.render())
    assert all(f"| `{name}` |" in table for name in ACTIONS)
    assert (DOCS / "actions.md").read_text(encoding="utf-8") == table, (
        "regenerate: .venv/bin/python -m docs.gen_actions_table > docs/actions.md")
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert generator.with_table(readme) == readme, "refresh: .venv/bin/python -m docs.gen_actions_table --readme"
