"""Who may do what: the clicker's roles from configured Entra groups (and their UPN, for the audit), and targets
that are never acted on."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable

from redis.asyncio import Redis

from actions.errors import NotFound, RiposteError, ServiceError
from actions.runner import Refused
from actions.spec import Actor, Role, TargetUser, Tenant
from bot.clicks.answered import Turn

log = logging.getLogger(__name__)
SYSTEM_ACCOUNT_MARKERS = ("app@sharepoint", "sharepoint\\system", "nt authority\\", "#ext#@anonymous")
ROLE_CHECK_SECONDS = 3.5  # of Teams' ~5 s for an answer


class RoleCheckFailed(RiposteError):
    """Graph could not say which groups the person is in: fail closed, saying why."""


class RoleResolver:
    """Maps an Entra object id to Riposte roles via checkMemberGroups, and to the UPN the audit names them by,
    cached briefly in Redis."""

    def __init__(
        self,
        tenant: Tenant,
        redis: Redis,
        groups: dict[Role, list[str]],
        cache_seconds: int,
    ) -> None:
        self._tenant = tenant
        self._redis = redis
        self._groups = groups
        self._cache_seconds = cache_seconds

    async def actor(self, object_id: str, name: str, turn: Turn | None = None) -> Actor:
        """The person with the roles they hold now and their UPN. Within `turn` (a click waiting for its answer)
        only as long as the answer can wait."""
        roles, upn = await self._known(object_id, turn)
        return Actor(id=object_id, name=name, roles=roles, upn=upn)

    async def roles(self, object_id: str, turn: Turn | None = None) -> frozenset[Role]:
        return (await self._known(object_id, turn))[0]

    async def _known(self, object_id: str, turn: Turn | None) -> tuple[frozenset[Role], str]:
        if not object_id:
            return frozenset(), ""
        key = f"riposte:roles:{object_id}"
        cached = await self._redis.get(key)
        if cached is not None:
            return _parsed(cached)
        # A slow Graph must not hold the click past Teams' ~5 s: answer "try again", and let the look-up finish
        # and fill the cache so that the next click is quick.
        look_up = asyncio.ensure_future(self._look_up(object_id, key))
        look_up.add_done_callback(_consume_error)
        budget = turn.time_left(ROLE_CHECK_SECONDS) if turn else ROLE_CHECK_SECONDS
        try:
            return await asyncio.wait_for(asyncio.shield(look_up), budget)
        except TimeoutError:
            raise RoleCheckFailed("Graph is slow to confirm your Riposte role, so nothing ran. Try again in a "
                                  "moment.") from None

    async def _look_up(self, object_id: str, key: str) -> tuple[frozenset[Role], str]:
        all_groups = sorted({group for groups in self._groups.values() for group in groups})
        upn_read = asyncio.ensure_future(self._upn(object_id))  # alongside: it costs the click no extra time
        try:
            member_of = await self._tenant.member_groups(object_id, all_groups)
        except NotFound:
            member_of = set()  # not a user of this tenant (a guest of another, a test client): no role here
        except ServiceError as error:
            upn_read.cancel()
            raise RoleCheckFailed(f"Your Riposte role could not be checked, so nothing ran: {error}") from None
        roles = frozenset(role for role, groups in self._groups.items() if member_of.intersection(groups))
        upn = await upn_read
        await self._redis.set(key, json.dumps({"roles": sorted(roles), "upn": upn}), ex=self._cache_seconds)
        return roles, upn

    async def _upn(self, object_id: str) -> str:
        """The UPN the audit names the person by; empty when Entra does not say (it never stops a role check)."""
        try:
            user = await self._tenant.get_user_fields(object_id, ["userPrincipalName"])
        except RiposteError as error:
            log.info("the UPN of %s could not be read (%s); the audit names them by object id", object_id, error)
            return ""
        return str(user.get("userPrincipalName") or "")


def _parsed(cached: str | bytes) -> tuple[frozenset[Role], str]:
    data = json.loads(cached)
    if isinstance(data, list):  # written before the UPN was kept beside the roles
        return frozenset(Role(value) for value in data), ""
    return frozenset(Role(value) for value in data.get("roles", [])), str(data.get("upn") or "")


def _consume_error(task: asyncio.Future[tuple[frozenset[Role], str]]) -> None:
    """A look-up the click stopped waiting for may still fail; its error was already answered or is moot."""
    if not task.cancelled():
        task.exception()


def check_protected(actor: Actor, target: TargetUser, protected_users: Iterable[str]) -> None:
    """Raise Refused for targets Riposte never acts on, whatever the actor's role."""
    if actor.id and actor.id.lower() == target.id.lower():
        raise Refused("You cannot act on your own account: ask another responder.")
    protected = {entry.lower() for entry in protected_users}
    if {target.id.lower(), target.upn.lower()} & protected:
        raise Refused(f"{target.label} is a protected break-glass account (RIPOSTE_PROTECTED_USERS).")
    upn = target.upn.lower()
    if any(marker in upn for marker in SYSTEM_ACCOUNT_MARKERS):
        raise Refused(f"{target.upn} is a system or anonymous account, not a person's sign-in.")


async def check_last_global_admin(tenant: Tenant, target: TargetUser) -> None:
    """Riposte never acts on the last enabled Global Administrator: the tenant could be left unmanageable."""
    if "Global Administrator" not in target.admin_roles and not target.roles_unreadable:
        return  # with roles unreadable the target may be one: ask Graph (which then says what is missing)
    others = await tenant.enabled_global_admins() - {target.id}
    if not others:
        raise Refused(
            f"{target.label} is the last enabled Global Administrator: acting on them could lock everyone out of "
            "the tenant."
        )
