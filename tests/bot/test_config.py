"""The bot's app type: derived from the tenant id, and MultiTenant with a tenant id refused (in-process)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from pydantic import ValidationError

from bot.config import Settings

# A complete production configuration apart from the app type settings under test.
PRODUCTION = {"MicrosoftAppId": "app", "MicrosoftAppPassword": "secret", "GRAPH_TENANT_ID": "t",
              "GRAPH_CLIENT_ID": "c", "GRAPH_CLIENT_SECRET": "s", "REDIS_URL": "redis://127.0.0.1:1/0"}


@pytest.fixture(autouse=True)
def _no_bot_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower().startswith(("microsoft", "graph_", "riposte_", "redis_")):
            monkeypatch.delenv(name)


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_a_tenant_id_makes_the_bot_single_tenant_by_default() -> None:
    configured = settings(**PRODUCTION, MicrosoftAppTenantId="tenant-id")
    assert configured.app_type == "SingleTenant"
    assert configured.startup_problem() is None


def test_without_a_tenant_id_the_bot_stays_multi_tenant() -> None:
    configured = settings(**PRODUCTION)
    assert configured.app_type == "MultiTenant"
    assert configured.startup_problem() is None


def test_multi_tenant_with_a_tenant_id_refuses_to_start_and_says_what_to_change() -> None:
    problem = settings(**PRODUCTION, MicrosoftAppTenantId="tenant-id", MicrosoftAppType="MultiTenant").startup_problem()
    assert problem is not None
    assert "MicrosoftAppType=MultiTenant with MicrosoftAppTenantId" in problem
    assert "AADSTS700016" in problem and "MicrosoftAppType=SingleTenant" in problem


def test_explicit_single_tenant_still_needs_the_tenant_id() -> None:
    problem = settings(**PRODUCTION, MicrosoftAppType="SingleTenant").startup_problem()
    assert problem is not None and "needs MicrosoftAppTenantId" in problem


def test_read_back_pauses_are_a_comma_separated_list_of_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings().read_back_retry_seconds == [0.5, 1.5]
    monkeypatch.setenv("RIPOSTE_READ_BACK_RETRY_SECONDS", "0.2, 1, 3")
    assert settings().read_back_retry_seconds == [0.2, 1.0, 3.0]
    monkeypatch.setenv("RIPOSTE_READ_BACK_RETRY_SECONDS", "")
    assert settings().read_back_retry_seconds == [], "no pause: the first read-back decides"
    monkeypatch.setenv("RIPOSTE_READ_BACK_RETRY_SECONDS", "0.5,-1")
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        settings()


def test_the_answer_budget_may_be_shortened_never_lengthened(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings().answer_budget_seconds == 4.5
    monkeypatch.setenv("RIPOSTE_ANSWER_BUDGET_SECONDS", "1.5")
    assert settings().answer_budget_seconds == 1.5
    monkeypatch.setenv("RIPOSTE_ANSWER_BUDGET_SECONDS", "6")  # past Teams' ~5 s the answer would be dropped
    with pytest.raises(ValidationError, match=r"less than or equal to 4\.5"):
        settings()
