"""`python app.py doctor` against the sandbox tenant on the production path (msal against its HTTPS authority, real
Redis): green when everything is there, a red line and a non-zero exit when a permission is withheld, no secret."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actions import ACTIONS
from bot.config import Settings
from bot.doctor import needs_of, run
from sandbox.launcher import TenantWithAuthority, production_like_environment, start_tenant_with_authority
from sandbox.seed import load_seed
from sandbox.tenant import TENANT, TenantState

BOT_PASSWORD = "bot-password-never-printed"
GRAPH_SECRET = "sandbox-client-secret"


@pytest.fixture
async def tenant(tmp_path: Path) -> AsyncIterator[TenantWithAuthority]:
    running = await start_tenant_with_authority(load_seed(), tmp_path)
    yield running
    await running.server.runner.cleanup()


def doctor_settings(tenant: TenantWithAuthority, redis_url: str, monkeypatch: pytest.MonkeyPatch,
                    **extra: str) -> Settings:
    env = production_like_environment(load_seed(), tenant, "http://127.0.0.1:9", redis_url, 3978)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", env.pop("REQUESTS_CA_BUNDLE"))  # msal trusts the sandbox authority
    del env["RIPOSTE_ALLOW_UNAUTHENTICATED"]
    seed = load_seed()
    env.update({"MicrosoftAppId": "riposte-sandbox-bot", "MicrosoftAppPassword": BOT_PASSWORD,
                "MicrosoftAppTenantId": seed["tenant"]["id"]}, **extra)
    return Settings(_env_file=None, **env)  # type: ignore[call-arg,arg-type]


async def doctor(settings: Settings) -> tuple[int, str]:
    out = io.StringIO()
    code = await run(settings, out=out)
    return code, out.getvalue()


def assert_no_secret(output: str, state: TenantState) -> None:
    assert GRAPH_SECRET not in output and BOT_PASSWORD not in output
    assert state.issued_tokens, "msal signed in"
    assert not any(token in output for token in state.issued_tokens)


def test_permission_texts_parse_into_alternatives_and_roles() -> None:
    assert needs_of("User.EnableDisableAccount.All + User.Read.All") == [
        (("User.EnableDisableAccount.All",), False), (("User.Read.All",), False)]
    assert needs_of("Directory.Read.All (or DelegatedPermissionGrant.ReadWrite.All) to list; "
                    "Application.ReadWrite.All (app) / DelegatedPermissionGrant.ReadWrite.All (consent)") == [
        (("Directory.Read.All", "DelegatedPermissionGrant.ReadWrite.All"), False),
        (("Application.ReadWrite.All",), False), (("DelegatedPermissionGrant.ReadWrite.All",), False)]
    assert needs_of("User-PasswordProfile.ReadWrite.All + User Administrator role") == [
        (("User-PasswordProfile.ReadWrite.All",), False), (("User Administrator",), True)]


async def test_doctor_is_green_against_the_sandbox(tenant: TenantWithAuthority, clean_redis: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = await doctor(doctor_settings(tenant, clean_redis, monkeypatch))
    lines = output.splitlines()
    assert code == 0, output
    assert not [line for line in lines if line.startswith("✗")], output
    for expected in ("✓ Graph token: app riposte-sandbox-app signed in",
                     "✓ permission User.RevokeSessions.All — for revoke_sessions",
                     "✓ permission User.Read.All (a read succeeded)",
                     "✓ RIPOSTE_RESPONDER_GROUPS: group Riposte Responders",
                     "✓ protected user breakglass@contoso.onmicrosoft.com exists",
                     "✓ Exchange Online: Get-AcceptedDomain answered",
                     "✓ Redis answers", "! Redis AOF is off",  # the tests' Redis runs without AOF
                     "✓ alert channel is set",
                     "✓ Bot Framework token: bot riposte-sandbox-bot (SingleTenant) signed in"):
        assert any(line.startswith(expected) for line in lines), f"{expected!r} not in:\n{output}"
    # Delegated mode (the default): reset_password always runs with the clicker's own token, so the app is not
    # asked for its password permission or the User Administrator role.
    app_permissions = [line for line in lines if line.startswith(("✓ permission", "✓ directory role"))]
    assert app_permissions and not any("reset_password" in line for line in app_permissions), output
    assert "User Administrator" not in output, output
    assert any(line.startswith("✓ delegated permission") and "reset_password" in line for line in lines), output
    assert_no_secret(output, tenant.server.app[TENANT])


async def test_a_withheld_permission_is_red_and_fails_the_run(tenant: TenantWithAuthority, clean_redis: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    state = tenant.server.app[TENANT]
    state.withheld_permissions = {"User.RevokeSessions.All", "Exchange.ManageAsApp", "Policy.Read.All"}
    code, output = await doctor(doctor_settings(tenant, clean_redis, monkeypatch,
                                                RIPOSTE_PROTECTED_USERS="breakglas@contoso.onmicrosoft.com"))
    lines = output.splitlines()
    assert code == 1
    red = [line for line in lines if line.startswith("✗")]
    assert any(line.startswith("✗ permission User.RevokeSessions.All is not granted (needed by revoke_sessions")
               and "Grant admin consent" in line for line in red), output
    assert any(line.startswith("✗ permission Exchange.ManageAsApp is not granted") for line in red), output
    assert any(line.startswith("✗ Exchange Online: Get-AcceptedDomain failed") for line in red), output
    assert any(line.startswith("✗ permission Policy.Read.All is not granted") for line in red), output
    assert any(line.startswith("✗ protected user breakglas@contoso.onmicrosoft.com") for line in red), output
    assert any(line.startswith("✓ permission User.EnableDisableAccount.All") for line in lines), output
    assert lines[-1].startswith("✗ 5 problem(s)"), output
    assert_no_secret(output, state)


async def test_a_wrong_tenant_is_one_clear_red_line(tenant: TenantWithAuthority, clean_redis: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = await doctor(doctor_settings(tenant, clean_redis, monkeypatch, GRAPH_TENANT_ID="not-a-tenant"))
    assert code == 1
    assert "✗ Graph token: no sign-in at https://" in output and "/not-a-tenant: " in output
    assert "✗ permissions, groups and protected users: not checked without a Graph token" in output
    assert GRAPH_SECRET not in output and BOT_PASSWORD not in output


async def test_actions_switched_off_in_the_policy_are_not_asked_for(tenant: TenantWithAuthority, clean_redis: str,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    """An operator who leaves out the Exchange actions (`enabled = false`) gets a green run without Exchange."""
    exchange = [name for name, spec in ACTIONS.items() if "Exchange.ManageAsApp" in spec.permission
                and name != "block_user"]  # the bundle needs Exchange only for its forwarding step
    policy = tmp_path / "policy.toml"
    policy.write_text("".join(f"[actions.{name}]\nenabled = false\n" for name in exchange), encoding="utf-8")
    state = tenant.server.app[TENANT]
    state.withheld_permissions = {"Exchange.ManageAsApp"}
    code, output = await doctor(doctor_settings(tenant, clean_redis, monkeypatch, RIPOSTE_POLICY_FILE=str(policy)))
    assert code == 0, output
    assert f"! switched off by the policy file (enabled = false), so what only they need is not checked: " \
           f"{', '.join(sorted(exchange))}" in output
    assert "Exchange" not in output.replace("switched off by the policy", ""), output
    assert "✓ permission User.RevokeSessions.All — for revoke_sessions, block_user" in output
    assert not any(line.startswith("✗") for line in output.splitlines()), output

    # The same withheld permission with everything switched on: red, as before.
    code, output = await doctor(doctor_settings(tenant, clean_redis, monkeypatch))
    assert code == 1 and "✗ permission Exchange.ManageAsApp is not granted" in output


async def test_a_policy_file_riposte_would_refuse_is_a_red_line(tenant: TenantWithAuthority, clean_redis: str,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[actions.remove_forwarding]\nenabled = \"no\"\n", encoding="utf-8")
    code, output = await doctor(doctor_settings(tenant, clean_redis, monkeypatch, RIPOSTE_POLICY_FILE=str(policy)))
    assert code == 1
    assert "✗ policy file: [actions.remove_forwarding] enabled must be true or false → fix RIPOSTE_POLICY_FILE" \
        in output


async def test_delegated_mode_checks_the_connection_and_the_tenant_wide_consent(
        tenant: TenantWithAuthority, clean_redis: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Green with the seeded admin consent; a withdrawn consent (Graph's AllPrincipals grant is gone) is a red line
    per permission with the admin-consent link, and a non-zero exit."""
    code, output = await doctor(doctor_settings(tenant, clean_redis, monkeypatch))
    assert code == 0, output
    assert "✓ RIPOSTE_OAUTH_CONNECTION is set (riposte-graph)" in output
    assert "✓ delegated permission User.RevokeSessions.All is admin-consented — for revoke_sessions, block_user" \
        in output
    assert "Privileged Authentication Administrator" not in output  # the seeded app does not hold it

    state = tenant.server.app[TENANT]
    state.consented_scopes = {"User.Read.All", "User.EnableDisableAccount.All"}
    code, output = await doctor(doctor_settings(tenant, clean_redis, monkeypatch))
    assert code == 1, output
    red = [line for line in output.splitlines() if line.startswith("✗")]
    assert any(line.startswith("✗ delegated permission User.RevokeSessions.All is not admin-consented for app "
                               "riposte-sandbox-app: sign-in fails (AADSTS65001) for revoke_sessions, block_user")
               and "/v2.0/adminconsent?client_id=riposte-sandbox-app" in line for line in red), output
    assert "✓ delegated permission User.EnableDisableAccount.All is admin-consented" in output
    assert_no_secret(output, state)


async def test_delegated_mode_without_an_oauth_connection_names_the_greyed_out_actions(
        tenant: TenantWithAuthority, clean_redis: str, monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = await doctor(doctor_settings(tenant, clean_redis, monkeypatch, RIPOSTE_OAUTH_CONNECTION=""))
    assert code == 1
    assert "✗ RIPOSTE_PRIVILEGED_ACTIONS=delegated but RIPOSTE_OAUTH_CONNECTION is not set: revoke_sessions, " \
           "disable_account" in output and "→ set RIPOSTE_OAUTH_CONNECTION" in output, output


async def test_the_app_holding_privileged_authentication_administrator_is_worth_knowing_in_delegated_mode(
        tenant: TenantWithAuthority, clean_redis: str, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tenant.server.app[TENANT]
    state.application["directoryRoles"].append({
        "id": "7a000000-0000-4000-8000-000000000013", "roleTemplateId": "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        "displayName": "Privileged Authentication Administrator"})
    code, output = await doctor(doctor_settings(tenant, clean_redis, monkeypatch))
    assert code == 0, output
    assert "! the app still holds Privileged Authentication Administrator, which delegated mode does not need" \
        in output

    code, output = await doctor(doctor_settings(tenant, clean_redis, monkeypatch,
                                                RIPOSTE_PRIVILEGED_ACTIONS="app"))
    assert code == 0, output
    assert "✓ RIPOSTE_PRIVILEGED_ACTIONS=app: the app holds Privileged Authentication Administrator" in output
    assert "delegated permission" not in output


async def test_app_mode_needs_privileged_authentication_administrator(
        tenant: TenantWithAuthority, clean_redis: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The seeded app does not hold the role, as README says: app mode is red against the sandbox."""
    code, output = await doctor(doctor_settings(tenant, clean_redis, monkeypatch, RIPOSTE_PRIVILEGED_ACTIONS="app"))
    assert code == 1
    assert "✗ RIPOSTE_PRIVILEGED_ACTIONS=app but the app does not hold Privileged Authentication Administrator: " \
           "Graph refuses revoke_sessions" in output, output
    # The app resets passwords itself in app mode: its permission and role are asked for.
    assert "✓ directory role User Administrator (for reset_password)" in output, output
    assert "✓ permission User-PasswordProfile.ReadWrite.All — for reset_password" in output, output
