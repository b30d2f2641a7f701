"""The action catalogue against the sandbox tenant over real HTTP: Graph through msgraph-sdk, Exchange through
ExchangeAdmin, actions through ActionRunner with an in-memory audit (a list)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio

from actions import ACTIONS
from actions.audit import AuditEntry
from actions.credentials import StaticTokenCredential
from actions.exchange import ExchangeAdmin
from actions.graph import build_graph_client
from actions.items import list_items
from actions.runner import ActionResult, ActionRunner
from actions.spec import ActionContext, Actor, Item, Role, TargetUser
from actions.tenant import GraphTenant
from sandbox.launcher import RunningServer, start_server
from sandbox.seed import load_seed
from sandbox.tenant import SANDBOX_GRAPH_TOKEN, TENANT, TenantState, create_tenant_app

SEED = load_seed()
TENANT_ID: str = SEED["tenant"]["id"]
IDS: dict[str, str] = {user["userPrincipalName"].split("@")[0]: user["id"] for user in SEED["users"]}
ALICE = IDS["alice"]
ALICE_UPN = "alice@contoso.com"
SAM_UPN = "sam.synced@contoso.com"
PAT_UPN = "pat_fabrikam.com#EXT#@contoso.onmicrosoft.com"
BREAKGLASS_UPN = "breakglass@contoso.onmicrosoft.com"
READ_BACK_DELAYS = (0.02, 0.05)
ACTOR = Actor(id=IDS["ada.adminresponder"], name="Ada Admin-Responder", roles=frozenset({Role.ADMIN_RESPONDER}))


@dataclass
class ListAudit:
    entries: list[AuditEntry] = field(default_factory=list)

    async def record(self, entry: AuditEntry) -> str:
        self.entries.append(entry)
        return str(len(self.entries))


@dataclass
class Env:
    server: RunningServer
    tenant: GraphTenant
    exchange: ExchangeAdmin
    audit: ListAudit
    runner: ActionRunner

    @property
    def state(self) -> TenantState:
        return self.server.app[TENANT]

    def snapshot(self) -> dict[str, Any]:
        """The tenant's whole state, minus the fault list (which counts down as faults fire)."""
        snap = self.state.snapshot()
        snap.pop("faults")
        return snap

    targets: dict[str, TargetUser] = field(default_factory=dict)

    async def target(self, upn: str = ALICE_UPN) -> TargetUser:
        """The user as Graph says now (three Graph calls; `run` reuses the last answer)."""
        self.targets[upn] = await self.tenant.get_user(upn)
        return self.targets[upn]

    def context(self, target: TargetUser) -> ActionContext:
        return ActionContext(tenant=self.tenant, target=target, case_id="case-1", exchange=self.exchange)

    async def items(self, kind: str, upn: str = ALICE_UPN) -> list[Item]:
        return await list_items(kind, self.context(await self.target(upn)))

    async def item(self, kind: str, label_contains: str, upn: str = ALICE_UPN) -> Item:
        return next(item for item in await self.items(kind, upn) if label_contains in item.label)

    async def run(
        self,
        action: str,
        upn: str = ALICE_UPN,
        *,
        item: Item | None = None,
        saved: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> ActionResult:
        target = self.targets.get(upn) or await self.target(upn)
        return await self.runner.execute(
            ACTIONS[action], ACTOR, target, "case-1", item=item, saved=saved, options=options
        )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_env() -> AsyncIterator[Env]:
    """One sandbox tenant and one set of clients per test module (each test starts from the seed again)."""
    server = await start_server(create_tenant_app(load_seed()))
    credential = StaticTokenCredential(SANDBOX_GRAPH_TOKEN)
    tenant = GraphTenant(build_graph_client(server.url, credential))
    exchange = ExchangeAdmin(credential, TENANT_ID, endpoint=server.url)
    audit = ListAudit()
    # Read-backs that do not show a change are tried again after pauses (0.5 s and 1.5 s by default): shortened.
    yield Env(server, tenant, exchange, audit, ActionRunner(tenant, audit, exchange, read_back_delays=READ_BACK_DELAYS))
    await exchange.aclose()
    await server.runner.cleanup()


@pytest_asyncio.fixture(loop_scope="module")
async def env(shared_env: Env) -> Env:
    """The shared tenant reset to the seed, with no recorded requests, faults or audit entries.

    Test modules using it run in the module's event loop: `pytestmark = pytest.mark.asyncio(loop_scope="module")`.
    """
    shared_env.state.reset()
    shared_env.audit.entries.clear()
    shared_env.targets.clear()
    return shared_env


def without(data: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in data.items() if k not in keys}
