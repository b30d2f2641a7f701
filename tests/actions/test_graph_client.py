"""The Graph client against the sandbox tenant over real HTTP: msal over HTTPS (for Graph and Exchange), and
error translation."""

from __future__ import annotations

import datetime
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from actions.credentials import CredentialError, MsalClientCredential, StaticTokenCredential
from actions.errors import NotFound, PermissionMissing, ServiceUnavailable, Throttled
from actions.exchange import ExchangeAdmin
from actions.graph import build_graph_client, get_json_pages
from actions.tenant import READ_ALERTS, GraphTenant
from sandbox.launcher import RunningServer, start_server
from sandbox.seed import load_seed
from sandbox.tenant import SANDBOX_GRAPH_TOKEN, TENANT, TenantState, create_tenant_app
from sandbox.tls import self_signed_certificate, server_context

SEED = load_seed()
TENANT_ID = SEED["tenant"]["id"]
ALICE = next(user["id"] for user in SEED["users"] if user["userPrincipalName"] == "alice@contoso.com")
REVOKE = rf"/users/{ALICE}/revokeSignInSessions"
CLIENT_SECRET = "a-client-secret-value"


@pytest.fixture
async def tenant_server() -> AsyncIterator[RunningServer]:
    server = await start_server(create_tenant_app(load_seed()))
    yield server
    await server.runner.cleanup()


@pytest.fixture
async def authority(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningServer]:
    """The sandbox tenant over HTTPS, as msal insists for an authority (trusted through REQUESTS_CA_BUNDLE)."""
    cert, key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # msal uses requests
    server = await start_server(create_tenant_app(load_seed()), ssl_context=server_context(cert, key))
    yield server
    await server.runner.cleanup()


async def http_door(server: RunningServer) -> str:
    """Another door into the same tenant state, over loopback HTTP (for Graph or Exchange clients)."""
    site = web.TCPSite(server.runner, "127.0.0.1", 0)
    await site.start()
    return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]


def secret_credential(authority: RunningServer, secret: str = CLIENT_SECRET) -> MsalClientCredential:
    return MsalClientCredential(tenant_id=TENANT_ID, client_id="riposte-test-app", authority_host=authority.url,
                                client_secret=secret)


def state(server: RunningServer) -> TenantState:
    return server.app[TENANT]


def static_tenant(server: RunningServer) -> GraphTenant:
    return GraphTenant(build_graph_client(server.url, StaticTokenCredential(SANDBOX_GRAPH_TOKEN)))


async def test_msal_client_secret_flow_against_an_https_authority(authority: RunningServer) -> None:
    tenant = GraphTenant(build_graph_client(await http_door(authority), secret_credential(authority)))

    target = await tenant.get_user("alice@contoso.com")
    assert (target.id, target.display_name, target.account_enabled) == (ALICE, "Alice Target", True)
    assert await tenant.revoke_sessions(target.id)

    recorded = state(authority).requests
    token_requests = [r for r in recorded if r.path.endswith("/oauth2/v2.0/token")]
    assert len(token_requests) == 1, "the token is cached by msal between calls"
    assert CLIENT_SECRET not in repr(recorded)
    assert state(authority).issued_tokens, "Graph calls were made with a token the authority issued"
    assert any(r.path == REVOKE for r in recorded)


async def test_the_exchange_token_is_asked_for_the_exchange_endpoint(authority: RunningServer) -> None:
    """A national cloud's Exchange (https://outlook.office365.us) is its own token audience."""
    endpoint = await http_door(authority)
    exchange = ExchangeAdmin(secret_credential(authority), TENANT_ID, endpoint=endpoint)
    try:
        output, _ = await exchange.invoke("Get-Mailbox", {"Identity": "alice@contoso.com"})
    finally:
        await exchange.aclose()
    assert output[0]["ForwardingSmtpAddress"] == "smtp:invoices@evil.example"
    [token_request] = [r for r in state(authority).requests if r.path.endswith("/oauth2/v2.0/token")]
    assert token_request.body["scope"] == f"{endpoint}/.default"


async def test_msal_failure_is_a_clear_error_without_the_secret(authority: RunningServer) -> None:
    with pytest.raises(CredentialError, match="invalid_client"):
        await secret_credential(authority, secret="").get_token("https://graph.microsoft.com/.default")


async def test_unknown_user_is_not_found(tenant_server: RunningServer) -> None:
    with pytest.raises(NotFound, match="no such object in this tenant"):
        await static_tenant(tenant_server).get_user("ghost@contoso.com")


async def test_membership_of_more_groups_than_one_request_takes_is_checked_in_batches(
    tenant_server: RunningServer,
) -> None:
    rita = next(user["id"] for user in SEED["users"] if user["userPrincipalName"] == "rita.responder@contoso.com")
    group_ids = [f"9b000000-0000-4000-8000-{n:012d}" for n in range(25)]
    for n, group_id in enumerate(group_ids):
        members = [rita] if n in (2, 22) else []  # one in each batch: the first 20, then the rest
        state(tenant_server).groups[group_id] = {"id": group_id, "displayName": f"Group {n}", "members": members}
    assert await static_tenant(tenant_server).member_groups(rita, group_ids) == {group_ids[2], group_ids[22]}
    checks = [r.body["groupIds"] for r in state(tenant_server).requests if r.path.endswith("/checkMemberGroups")]
    assert sorted(len(batch) for batch in checks) == [5, 20]
    assert sorted(g for batch in checks for g in batch) == group_ids


async def test_forbidden_names_the_missing_permission(tenant_server: RunningServer) -> None:
    state(tenant_server).add_fault(method="POST", path_regex=REVOKE, status=403, times=1)
    with pytest.raises(PermissionMissing) as refused:
        await static_tenant(tenant_server).revoke_sessions(ALICE)
    assert "User.RevokeSessions.All" in str(refused.value)
    assert refused.value.request_id


async def test_refused_membership_and_consent_reads_name_every_permission_graph_documents(
    tenant_server: RunningServer,
) -> None:
    state(tenant_server).add_fault(method="POST", path_regex="/checkMemberGroups$", status=403, times=1)
    state(tenant_server).add_fault(method="GET", path_regex="/oauth2PermissionGrants", status=403, times=1)
    with pytest.raises(PermissionMissing) as membership:
        await static_tenant(tenant_server).member_groups(ALICE, ["9b000000-0000-4000-8000-000000000001"])
    assert "the User.Read.All + GroupMember.Read.All application permission" in str(membership.value)
    with pytest.raises(PermissionMissing) as grants:
        await static_tenant(tenant_server).list_consent_grants(ALICE)
    assert "Directory.Read.All (or DelegatedPermissionGrant.ReadWrite.All)" in str(grants.value)


async def test_throttling_is_retried_after_a_fractional_retry_after(tenant_server: RunningServer) -> None:
    state(tenant_server).add_fault(method="POST", path_regex=REVOKE, status=429, times=2, retry_after="0.3")
    started = time.monotonic()
    assert await static_tenant(tenant_server).revoke_sessions(ALICE)
    waited = time.monotonic() - started
    attempts = [r for r in state(tenant_server).requests if r.path == REVOKE]
    assert len(attempts) == 3
    assert 0.55 <= waited < 5, f"Retry-After 0.3 twice should wait about 0.6 s, waited {waited:.2f}s"


async def test_throttling_that_does_not_stop_gives_up_clearly(tenant_server: RunningServer) -> None:
    state(tenant_server).add_fault(method="POST", path_regex=REVOKE, status=429, times=None, retry_after="0.05")
    with pytest.raises(Throttled, match="is throttling requests"):
        await static_tenant(tenant_server).revoke_sessions(ALICE)


async def test_msal_certificate_flow_against_an_https_authority(authority: RunningServer, tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    # The app's own credential: an RSA key and its certificate in one PEM file (GRAPH_CLIENT_CERTIFICATE_PATH).
    app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "riposte-app")])
    now = datetime.datetime.now(datetime.UTC)
    app_cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(app_key.public_key())
                .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                .sign(app_key, hashes.SHA256()))
    pem = tmp_path / "app.pem"
    pem.write_bytes(app_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())
                    + app_cert.public_bytes(serialization.Encoding.PEM))
    credential = MsalClientCredential(tenant_id=TENANT_ID, client_id="riposte-test-app",
                                      authority_host=authority.url, certificate_path=str(pem))
    token = await credential.get_token("https://graph.microsoft.com/.default")
    assert token.token in state(authority).issued_tokens
    [request] = [r for r in state(authority).requests if r.path.endswith("/oauth2/v2.0/token")]
    assert request.body["client_assertion"] == "***", "a signed assertion was sent, and not recorded"


def five_alerts(server: RunningServer) -> None:
    state(server).alerts_page_size = 2
    state(server).security_alerts = [{"id": f"a{n}", "title": f"Alert {n}", "lastUpdateDateTime":
                                      f"2026-11-22T10:0{n}:00Z"} for n in range(5)]


async def test_paging_stops_at_the_page_cap_and_says_the_list_is_partial(tenant_server: RunningServer) -> None:
    five_alerts(tenant_server)
    pages = await static_tenant(tenant_server).security_alerts_since("2026-11-01T00:00:00Z", top=2, max_pages=2)
    assert [a["id"] for a in pages.items] == ["a4", "a3", "a2", "a1"] and not pages.complete
    whole = await static_tenant(tenant_server).security_alerts_since("2026-11-01T00:00:00Z", top=2)
    assert len(whole.items) == 5 and whole.complete


async def test_a_list_whose_next_link_repeats_fails_rather_than_loops_or_passes_for_whole(
    tenant_server: RunningServer,
) -> None:
    five_alerts(tenant_server)
    state(tenant_server).alerts_repeat_next_link = True
    client = build_graph_client(tenant_server.url, StaticTokenCredential(SANDBOX_GRAPH_TOKEN))
    with pytest.raises(ServiceUnavailable, match="same next-page link twice"):
        await get_json_pages(READ_ALERTS, "the tenant", client.security.alerts_v2)
    assert len([r for r in state(tenant_server).requests if r.path == "/security/alerts_v2"]) == 2
