"""The sandbox page as Teams: single sign-on fails, the page shows the sign-in link, the person picks themselves on
the sign-in page, and the click goes through (headless Chromium)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.browser import chromium_page, needs_chromium
from tests.conftest import BotFactory
from tests.e2e.helpers import SAMPLE_ALERT, channel, posted_card, tenant
from tests.e2e.test_automation_rules import policy
from tests.signin.helpers import ADA, ADA_UPN, GRACE, GRACE_UPN, writes_by
from tests.signin.test_without_approval import NO_APPROVAL_ON_ADMINS


@pytest.mark.browser
@needs_chromium
async def test_a_sign_in_by_the_link_from_the_sandbox_page(make_bot: BotFactory, tmp_path: Path) -> None:
    bot = await make_bot(policy_file=policy(tmp_path, NO_APPROVAL_ON_ADMINS))
    await posted_card(bot, {**SAMPLE_ALERT, "id": "browser-sign-in", "user": GRACE_UPN})
    channel(bot).add_fault("POST", "^/api/usertoken/exchange$", status=400, code="ExchangeFailed")
    async with chromium_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{bot.url}/sandbox")
        await page.locator("#who").select_option(ADA)
        card = page.locator(".thread-root .ac-card").last
        await expect(card).to_contain_text("Grace Admin (grace.admin@contoso.com)")
        await card.locator("button[data-verb='disable_account']").click()

        banner = page.locator("#sign-in")
        await expect(banner).to_be_visible()
        await expect(banner).to_contain_text("Privileged Authentication Administrator or Global Administrator")
        async with page.context.expect_page() as opened:
            await page.locator("#sign-in-link").click()
        sign_in = await opened.value
        await sign_in.get_by_role("link", name="Ada Admin-Responder").click()  # the tenant's page: pick who
        await expect(sign_in.locator("h1")).to_have_text("Signed in")

        await expect(banner).to_be_hidden()
        await expect(card).to_contain_text("Disable account: done by Ada Admin-Responder", timeout=10_000)
        await expect(card).to_contain_text("own Entra rights")
        assert errors == []
    assert tenant(bot).users[GRACE]["accountEnabled"] is False
    assert writes_by(bot, f"/users/{GRACE}") == [("PATCH", ADA_UPN)]
