"""A person's view: the sandbox page in headless Chromium, from a sample alert to the revoked-sessions card."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser import chromium_page, needs_chromium
from tests.conftest import BotFactory, RunningBot
from tests.e2e.helpers import ALICE, RESPONDER, tenant
from tests.e2e.test_watch import checks_after


@pytest.mark.browser
@needs_chromium
async def test_responder_revokes_sessions_from_the_sandbox_page(bot: RunningBot) -> None:
    async with chromium_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{bot.url}/sandbox")  # the bot redirects to the sandbox channel's page
        await page.locator("#who").select_option(RESPONDER)
        await page.locator("#send-sample-alert").click()

        card = page.locator(".thread-root .ac-card").last  # the case's card (its notes are replies below it)
        await expect(card).to_contain_text("Suspicious inbox forwarding rule")
        await expect(card).to_contain_text("Alice Target (alice@contoso.com)")
        await card.locator("button[data-verb='revoke_sessions']").click()

        await expect(card).to_contain_text("Revoke sessions: done by Rita Responder", timeout=10_000)
        await expect(card).to_contain_text("Cannot be undone; the user signs in again.")
        # The last update of the card (its read-back and the watch's first check): an update redraws the card, and
        # a show card opened before it would be closed again, as in Teams.
        await expect(card).to_contain_text("Verified: sessions revoked", timeout=10_000)
        await expect(card).to_contain_text("Containment: partly contained", timeout=10_000)
        # Done, so greyed out: Riposte moves a greyed-out button behind "More actions" (drawn when opened).
        await card.get_by_role("button", name="More actions").click()
        await expect(card.locator("button[data-verb='revoke_sessions']")).to_be_disabled()
        await expect(page.locator(".thread-replies .ac-card").last).to_contain_text("Revoke sessions — done")
        assert errors == []
    assert any(r.path == f"/users/{ALICE}/revokeSignInSessions" for r in tenant(bot).requests)


@pytest.mark.browser
@needs_chromium
async def test_the_page_undoes_containment_and_the_card_shows_the_watcher_caught_it(make_bot: BotFactory) -> None:
    bot = await make_bot(watch_interval_seconds=0.3, watch_max_rps=50, watch_hours=1.0)
    async with chromium_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{bot.url}/sandbox")
        await page.locator("#who").select_option(RESPONDER)
        await page.locator("#send-sample-alert").click()
        card = page.locator(".thread-root .ac-card").last
        await expect(card).to_contain_text("Alice Target (alice@contoso.com)")
        await card.locator("button[data-verb='disable_account']").click()
        await expect(card).to_contain_text("Containment: partly contained", timeout=15_000)

        # Directory sync, simulated from the page (through the channel's proxy to the tenant's control).
        await expect(page.locator("#revert-user")).to_have_value("alice@contoso.com")
        await page.locator("#revert-sync").click()
        await expect(page.locator("#toast")).to_contain_text("accountEnabled true")
        await expect(card).to_contain_text("Containment: reverted", timeout=15_000)
        await expect(card).to_contain_text("account re-enabled at")
        reply = page.locator(".thread-replies .ac-card").last
        await expect(reply).to_contain_text("something you contained was undone")

        # The attacker re-creates the seeded rules someone deleted by hand meanwhile: a new rule, reported too.
        del tenant(bot).inbox_rules[ALICE][:]
        await checks_after(bot, ALICE, 1)
        await page.locator("#revert-rule").click()
        await expect(page.locator("#toast")).to_contain_text("created rule")
        await expect(card).to_contain_text("suspicious inbox rule “.” created", timeout=15_000)
        assert errors == []
    assert tenant(bot).users[ALICE]["accountEnabled"] is True
