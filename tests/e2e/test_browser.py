"""A person's view: the sandbox page in headless Chromium, from a sample alert to the revoked-sessions card."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser import chromium_page, needs_chromium
from tests.conftest import RunningBot
from tests.e2e.helpers import ALICE, RESPONDER, tenant


@pytest.mark.browser
@needs_chromium
async def test_responder_revokes_sessions_from_the_sandbox_page(bot: RunningBot) -> None:
    async with chromium_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{bot.url}/sandbox")  # the bot redirects to the sandbox channel's page
        await page.locator("#who").select_option(RESPONDER)
        await page.locator("#send-sample-alert").click()

        card = page.locator(".ac-card").last
        await expect(card).to_contain_text("Suspicious inbox forwarding rule")
        await expect(card).to_contain_text("Alice Target (alice@contoso.com)")
        await card.locator("button[data-verb='revoke_sessions']").click()

        await expect(page.locator(".ac-card").last).to_contain_text(
            "Revoke sessions: done by Rita Responder", timeout=10_000
        )
        await expect(page.locator(".ac-card").last).to_contain_text("Cannot be undone; the user signs in again.")
        await expect(page.locator(".ac-card").last.locator("button[data-verb='revoke_sessions']")).to_be_disabled()
        assert errors == []
    assert any(r.path == f"/users/{ALICE}/revokeSignInSessions" for r in tenant(bot).requests)
