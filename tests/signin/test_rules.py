"""Which runs need a person's own token, what each action declares for delegated mode, the start-up warning and the
greyed-out buttons when no OAuth connection is set, and the admin-consent link (pure: no I/O)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from actions import ACTIONS
from actions.spec import ON_ADMINISTRATORS, PASSWORD_RESETTERS, TargetUser
from bot.access.signing import ButtonSigner
from bot.cards.alert_card import alert_card
from bot.cards.views import CardPainter, CaseState
from bot.config import Settings
from bot.signin import rules
from docs.gen_delegated_table import with_table
from tests.bot.test_cards import ALICE, case
from tests.e2e.helpers import buttons

GRACE = TargetUser(id="g", upn="grace.admin@contoso.com", display_name="Grace Admin", account_enabled=True,
                   admin_roles=("Global Administrator",))
PRODUCTION = {"MicrosoftAppId": "bot-app", "MicrosoftAppPassword": "secret", "MicrosoftAppTenantId": "tid",
              "GRAPH_TENANT_ID": "tid", "GRAPH_CLIENT_ID": "c", "GRAPH_CLIENT_SECRET": "s",
              "REDIS_URL": "redis://127.0.0.1:1/0"}


@pytest.fixture(autouse=True)
def _no_bot_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower().startswith(("microsoft", "graph_", "riposte_", "redis_", "oauth")):
            monkeypatch.delenv(name)


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **{**PRODUCTION, **values})  # type: ignore[call-arg]


def test_delegated_is_the_default_and_starting_without_a_connection_warns_but_starts() -> None:
    configured = settings()
    assert configured.privileged_actions == "delegated"
    assert configured.startup_problem() is None
    warning = configured.signin_warning()
    assert warning and "RIPOSTE_OAUTH_CONNECTION is not set" in warning and "greyed out" in warning
    assert settings(RIPOSTE_OAUTH_CONNECTION="graph").signin_warning() is None
    assert settings(RIPOSTE_PRIVILEGED_ACTIONS="app").signin_warning() is None


def test_each_graph_write_guarded_by_a_role_declares_its_delegated_scope_and_the_roles_graph_requires() -> None:
    on_admins = {name for name, spec in ACTIONS.items() if spec.delegated_admin_roles}
    assert on_admins == {"revoke_sessions", "disable_account", "enable_account", "reset_password", "block_user",
                         "remove_auth_method", "block_signin", "unblock_signin", "confirm_compromised", "dismiss_risk"}
    assert all(ACTIONS[name].delegated_scope for name in on_admins)
    assert ACTIONS["disable_account"].delegated_admin_roles == ON_ADMINISTRATORS
    assert {name for name, spec in ACTIONS.items() if spec.delegated_roles} == {"reset_password"}
    assert ACTIONS["reset_password"].delegated_roles == PASSWORD_RESETTERS
    # Exchange and mailbox actions stay with the app: a delegated token opens only its person's own mailbox.
    assert not ACTIONS["remove_forwarding"].delegated_admin_roles and not ACTIONS["disable_inbox_rule"].delegated_scope


def test_which_runs_need_a_persons_token() -> None:
    delegated, app = settings(), settings(RIPOSTE_PRIVILEGED_ACTIONS="app")
    assert rules.roles_needed(delegated, ACTIONS["disable_account"], GRACE) == ON_ADMINISTRATORS
    assert rules.roles_needed(delegated, ACTIONS["disable_account"], ALICE) is None  # an ordinary user: the app
    assert rules.roles_needed(delegated, ACTIONS["reset_password"], ALICE) == PASSWORD_RESETTERS  # anyone
    assert rules.roles_needed(delegated, ACTIONS["remove_forwarding"], GRACE) is None  # Exchange: the app
    hidden = replace(ALICE, roles_unreadable="RoleManagement.Read.Directory")  # roles Graph hid count as admin
    assert rules.roles_needed(delegated, ACTIONS["revoke_sessions"], hidden) == ON_ADMINISTRATORS
    assert rules.roles_needed(app, ACTIONS["disable_account"], GRACE) is None
    assert rules.roles_text(delegated, ACTIONS["disable_account"], GRACE) == (
        "Privileged Authentication Administrator or Global Administrator")


def test_without_a_connection_those_buttons_are_greyed_out_with_the_reason() -> None:
    painter = CardPainter(ButtonSigner(b"k"), [], unavailable=rules.unavailable(settings()))
    grace = buttons(_card(painter, GRACE))
    assert grace["disable_account"]["isEnabled"] is False and "RIPOSTE_OAUTH_CONNECTION" in grace["disable_account"][
        "tooltip"]
    assert grace["remove_forwarding"].get("isEnabled", True) is True
    alice = buttons(_card(painter, ALICE))
    assert alice["disable_account"].get("isEnabled", True) is True
    assert alice["reset_password"]["isEnabled"] is False
    connected = CardPainter(ButtonSigner(b"k"), [], unavailable=rules.unavailable(settings(
        RIPOSTE_OAUTH_CONNECTION="graph")))
    assert buttons(_card(connected, GRACE))["disable_account"].get("isEnabled", True) is True


def test_the_admin_consent_link_names_the_connections_app_the_tenant_and_the_token_services_redirect() -> None:
    link = urlsplit(rules.consent_url(settings()))
    assert link.netloc == "login.microsoftonline.com" and link.path == "/tid/v2.0/adminconsent"
    query = parse_qs(link.query)
    assert query["client_id"] == ["bot-app"] and query["scope"] == ["https://graph.microsoft.com/.default"]
    assert query["redirect_uri"] == ["https://token.botframework.com/.auth/web/redirect"]
    other = parse_qs(urlsplit(rules.consent_url(settings(RIPOSTE_OAUTH_APP_ID="sso-app",
                                                         OAuthUrl="https://europe.token.botframework.com"))).query)
    assert other["client_id"] == ["sso-app"]
    assert other["redirect_uri"] == ["https://europe.token.botframework.com/.auth/web/redirect"]


def _card(painter: CardPainter, target: TargetUser) -> dict[str, Any]:
    return alert_card(painter.view(CaseState(case(target=target), {})))


def test_the_readme_table_of_delegated_roles_is_the_registrys() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert with_table(readme) == readme, "refresh: .venv/bin/python -m docs.gen_delegated_table --readme"
