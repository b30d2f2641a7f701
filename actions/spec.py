"""What an action is, and the ports actions use (the tenant; the audit lives with the bot)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Role(StrEnum):
    RESPONDER = "responder"
    APPROVER = "approver"
    ADMIN_RESPONDER = "admin_responder"


# Directory roles whose holders count as administrators (Entra role template ids).
PRIVILEGED_ROLE_TEMPLATES: Mapping[str, str] = {
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13": "Privileged Authentication Administrator",
    "194ae4cb-b126-40b2-bd5b-6091b380977d": "Security Administrator",
    "29232cdf-9323-42fd-ade2-1d097af3e4de": "Exchange Administrator",
    "fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
    "c4e39bd9-1100-46d3-8c65-fb160da0071f": "Authentication Administrator",
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
    "158c047a-c907-4556-b7ef-446551a6b5f7": "Cloud Application Administrator",
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9": "Conditional Access Administrator",
}
GLOBAL_ADMIN_TEMPLATE = "62e90394-69f5-4237-9190-012177145e10"

# Entra directory roles by name, as a card names them to the person Graph checks in delegated mode (README:
# "Privileged actions"). Any one of a tuple suffices; the higher roles are listed because Graph accepts them too.
GLOBAL_ADMIN = "Global Administrator"
PRIVILEGED_AUTH_ADMIN = "Privileged Authentication Administrator"
ON_ADMINISTRATORS = (PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN)  # disable, revoke or reset an administrator
PASSWORD_RESETTERS = ("Helpdesk Administrator", "User Administrator", "Authentication Administrator",
                      *ON_ADMINISTRATORS)  # reset an ordinary user's password
CA_POLICY_WRITERS = ("Conditional Access Administrator", "Security Administrator", GLOBAL_ADMIN)
RISK_WRITERS = ("Security Administrator", "Security Operator", GLOBAL_ADMIN)


def any_of(names: tuple[str, ...]) -> str:
    """("A", "B", "C") → "A, B or C"."""
    return " or ".join(filter(None, (", ".join(names[:-1]), names[-1]))) if names else ""
# Without one of these, Graph lists a user's directory roles with neither name nor template id.
ROLE_READ_PERMISSION = "RoleManagement.Read.Directory (or Directory.Read.All)"


@dataclass(frozen=True)
class Actor:
    """Who clicked or typed: always taken from the authenticated activity (roles and UPN from Entra)."""

    id: str  # Entra object id
    name: str
    roles: frozenset[Role] = frozenset()
    upn: str = ""  # read from Entra with the roles (bot/access/roles.py); empty when Entra does not know them


def roles_text(roles: frozenset[Role]) -> str:
    """The roles someone held at that moment, as the audit records them."""
    return ",".join(sorted(role.value for role in roles))


@dataclass(frozen=True)
class TargetUser:
    """The facts about a user that decide which actions apply."""

    id: str
    upn: str
    display_name: str
    account_enabled: bool
    user_type: str = "Member"
    on_premises_sync: bool = False
    mail: str | None = None
    admin_roles: tuple[str, ...] = ()
    has_mailbox: bool = True
    # The permission the app lacks when Graph hid which directory roles the user holds: counted as an admin.
    roles_unreadable: str = ""

    @property
    def is_guest(self) -> bool:
        return self.user_type.lower() == "guest"

    @property
    def is_external(self) -> bool:
        """A guest, or an external member (a B2B account, `#EXT#` in its UPN): either signs in through its home
        tenant, so this tenant cannot revoke its sessions."""
        return self.is_guest or "#EXT#" in self.upn.upper()

    @property
    def is_admin(self) -> bool:
        return bool(self.admin_roles or self.roles_unreadable)

    @property
    def privilege(self) -> str:
        """Why the user counts as an administrator, in words; empty for an ordinary user."""
        held = list(self.admin_roles)
        if self.roles_unreadable:
            held.append(f"directory roles Riposte cannot identify (the app lacks {self.roles_unreadable})")
        return ", ".join(held)

    @property
    def label(self) -> str:
        return f"{self.display_name} ({self.upn})"


@dataclass(frozen=True)
class SignedIn:
    """A person's delegated Graph token for one run (delegated mode): held in memory for that run only, never
    stored, logged or shown (repr leaves it out). What Graph will require of the person travels with it, so that a
    refusal can say what they lack."""

    id: str  # the person's Entra object id (Graph's /me)
    name: str
    upn: str
    token: str = field(repr=False)
    roles_needed: tuple[str, ...] = ()  # Entra roles Graph requires of them for this run (any one)
    scope: str = ""  # the delegated permission the run needs
    consent_url: str = ""  # where a Global Administrator consents to Riposte's delegated permissions

    @property
    def label(self) -> str:
        return f"{self.name} ({self.upn or self.id})"


@dataclass(frozen=True)
class Item:
    """One thing an action can act on (an inbox rule, an app, an MFA method...), listed on a card."""

    kind: str  # inbox_rule | app | teams_app | auth_method | mailbox_permission | transport_rule | forwarding
    id: str
    label: str
    suspicious: str = ""  # why it looks malicious, shown first; empty when it looks benign
    detail: Mapping[str, Any] = field(default_factory=dict)  # what the undo needs; never a secret


@dataclass(frozen=True)
class StepOutcome:
    """One step of a bundle (block_user): each runs even when another failed."""

    action: str
    ok: bool
    summary: str
    request_id: str | None = None
    skipped: bool = False  # did not apply (e.g. no mailbox): nothing to read back


@dataclass(frozen=True)
class ReadBack:
    """What the tenant shows now about an action's effect: `done` when the change is in place. Read from the
    target, item and options alone (no run's outcome), so crash recovery can ask whether an interrupted action
    happened."""

    done: bool
    observed: str  # what was read, in words: "account disabled (accountEnabled false)"
    state: str = ""  # the facts alone, as the audit's state before → after shows them: "accountEnabled false"

    @property
    def facts(self) -> str:
        return self.state or self.observed


@dataclass(frozen=True)
class Verification:
    """The read-back after a run, as the card and the audit show it."""

    ok: bool
    observed: str
    checked: bool = True  # False: the read-back itself failed (observed says why), so nothing is known
    state: str = ""  # the facts read (ReadBack.state), for the audit's state after

    @property
    def message(self) -> str:
        if not self.checked:
            return f"Not verified: Riposte could not read the change back ({self.observed})."
        if self.ok:
            return f"Verified: {self.observed}."
        return f"Graph accepted the change but the tenant shows {self.observed}."


@dataclass(frozen=True)
class Outcome:
    """What an action did, shown on the card and written to the audit (never a secret)."""

    summary: str
    reversal: str
    request_id: str | None = None
    undo: str | None = None  # the action that reverses this one, offered as a button
    saved: Mapping[str, Any] | None = None  # what was removed, kept with the case so the undo restores it
    items: tuple[Item, ...] = ()  # listings (list_inbox_rules): shown with per-item buttons
    steps: tuple[StepOutcome, ...] = ()  # bundles: each step's outcome
    secret_for_clicker: str | None = None  # shown once to the clicker only; never stored, logged or audited
    verification: Verification | None = None  # the read-back after the run (set by the runner)


@dataclass(frozen=True)
class Pages:
    """A collection read page by page; `complete` is False when paging stopped before the end (Graph sent a
    @odata.nextLink it had sent before, or the page cap was reached), so more items may exist."""

    items: list[dict[str, Any]]
    complete: bool = True


class Tenant(Protocol):
    """The directory operations actions need; implemented over Graph, and spoken by the sandbox tenant."""

    async def get_user(self, id_or_upn: str) -> TargetUser: ...

    async def member_groups(self, user_id: str, group_ids: list[str]) -> set[str]: ...

    async def enabled_global_admins(self) -> set[str]: ...

    async def security_alerts_since(self, since: str, top: int = 100, max_pages: int = 50) -> Pages: ...

    async def revoke_sessions(self, user_id: str) -> str | None: ...

    # Each method below is one Graph call; a mutation returns Graph's request id. Objects are Graph's JSON.

    async def set_account_enabled(self, user_id: str, enabled: bool) -> str | None: ...

    async def reset_password(self, user_id: str, password: str) -> str | None: ...

    async def create_ca_policy(self, policy: Mapping[str, Any]) -> tuple[str, str | None]:
        """Return the new policy's id and the request id."""
        ...

    async def get_ca_policy(self, policy_id: str) -> dict[str, Any]: ...

    async def list_ca_policies(self) -> list[dict[str, Any]]: ...

    async def signed_in_user(self) -> dict[str, Any]:
        """Graph's /me: who the person's token (acting_as) belongs to."""
        ...

    async def get_user_fields(self, user_id: str, fields: list[str]) -> dict[str, Any]:
        """The user's current Graph properties `fields` (a read-back: never a cached TargetUser)."""
        ...

    async def get_risky_user(self, user_id: str) -> dict[str, Any]:
        """Identity Protection's riskyUser; NotFound when the user has no risk record."""
        ...

    async def delete_ca_policy(self, policy_id: str) -> str | None: ...

    async def list_inbox_rules(self, user_id: str) -> list[dict[str, Any]]: ...

    async def get_inbox_rule(self, user_id: str, rule_id: str) -> dict[str, Any]: ...

    async def get_mail_folder(self, user_id: str, folder: str) -> dict[str, Any]: ...

    async def set_inbox_rule_enabled(self, user_id: str, rule_id: str, enabled: bool) -> str | None: ...

    async def create_inbox_rule(self, user_id: str, rule: Mapping[str, Any]) -> tuple[str, str | None]:
        """Return the new rule's id and the request id."""
        ...

    async def delete_inbox_rule(self, user_id: str, rule_id: str) -> str | None: ...

    async def list_consent_grants(self, user_id: str) -> list[dict[str, Any]]: ...

    async def get_service_principal(self, service_principal_id: str) -> dict[str, Any]: ...

    async def delete_service_principal(self, service_principal_id: str) -> str | None: ...

    async def delete_consent_grant(self, grant_id: str) -> str | None: ...

    async def list_teams_apps(self, user_id: str) -> list[dict[str, Any]]: ...

    async def remove_teams_app(self, user_id: str, installation_id: str) -> str | None: ...

    async def list_auth_methods(self, user_id: str) -> list[dict[str, Any]]: ...

    async def delete_auth_method(self, user_id: str, odata_type: str, method_id: str) -> str | None: ...

    async def confirm_compromised(self, user_id: str) -> str | None: ...

    async def dismiss_risk(self, user_id: str) -> str | None: ...


@dataclass(frozen=True)
class CmdletResult:
    """One cmdlet's output objects, the request id, and the warnings Exchange sent with it (`@adminapi.warnings`:
    the cmdlet ran, but e.g. changed nothing)."""

    output: list[dict[str, Any]]
    request_id: str | None = None
    warnings: tuple[str, ...] = ()


class Exchange(Protocol):
    """Exchange Online admin cmdlets (mailbox forwarding, permissions, transport rules)."""

    async def run(self, cmdlet: str, parameters: Mapping[str, Any]) -> CmdletResult:
        """Run one cmdlet: its output, request id and warnings."""
        ...

    async def invoke(self, cmdlet: str, parameters: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        """Run one cmdlet; return its output objects and the request id (for reads, where warnings do not matter)."""
        ...


@dataclass(frozen=True)
class ActionContext:
    tenant: Tenant
    target: TargetUser
    case_id: str
    exchange: Exchange | None = None
    item: Item | None = None  # the item chosen on the card, looked up server-side (never from card data)
    saved: Mapping[str, Any] | None = None  # what the reversed action saved (for undo actions)
    options: Mapping[str, Any] = field(default_factory=dict)  # card choices: bundle steps, remove_app mode
    started_at: str = ""  # ISO 8601 UTC, when the run began: read-backs of timestamps compare against it
    # For an action with `kept_per_user`: what its last run on this user saved, from any case (a block policy)
    previous: Mapping[str, Any] | None = None


NotApplicableReason = Callable[[TargetUser], "str | None"]


def always_applies(target: TargetUser) -> str | None:
    return None


ReadBackFn = Callable[[ActionContext], Awaitable[ReadBack]]
# A run-aware read-back (a bundle reads back only the steps that ran); default: the action's read_back.
VerifyFn = Callable[[ActionContext, Outcome], Awaitable[Verification]]
# What an undo needs, found again in the tenant after a crash (the run's own copy went with its process).
FindSavedFn = Callable[[ActionContext], Awaitable["Mapping[str, Any] | None"]]


class Aspect(StrEnum):
    """What the containment watch (bot/watch) reads about a user. An action names the aspects it changes on
    purpose (`ActionSpec.watches`): the watch takes them as the new baseline, and for a containment action a later
    change of them back is a revert."""

    ACCOUNT = "account"  # accountEnabled
    BLOCK = "block"  # the Conditional Access block policy Riposte created
    RULES = "rules"  # inbox rules
    FORWARDING = "forwarding"  # mailbox forwarding
    METHODS = "methods"  # authentication methods
    GRANTS = "grants"  # delegated consents
    FULL_ACCESS = "full_access"  # mailbox FullAccess holders


@dataclass(frozen=True)
class Choice:
    value: str  # what the action reads in ctx.options
    title: str  # on the card
    said: str = ""  # spelled out for an approver, who must see e.g. a tenant-wide deletion for what it is


@dataclass(frozen=True)
class CardInput:
    """A choice an action reads from its card. Described here, drawn by bot/cards and read by a click into
    `ActionContext.options[option]`: only the values declared here, never free text."""

    option: str  # the key in ctx.options
    input_id: str  # the card input's id; with `many`, the prefix of each toggle's id ("step" -> "step_<value>")
    label: str  # shown above it
    choices: tuple[Choice, ...]
    default: str = ""  # one choice: preselected, and read when the card sends no known value
    many: bool = False  # a toggle per choice, each on by default: options[option] is the list of values left on
    # With `many`: each choice is one of the bundle's steps (a registered action), so a step the policy switches off
    # is left out of the run whoever asked, and of the card.
    chooses_steps: bool = False


@dataclass(frozen=True)
class BundleStep:
    """One step of a bundle. It is the registered action `action` (run on the bundle's own terms): that action's
    undo reverses the step, its aspects are watched, and a per-item step's items each get that action's record.
    The bundle's Outcome.saved is keyed by step action; an item step's copy is {"items": [{"id", "label",
    "saved"}]}, each "saved" what the step's own action saves for that item."""

    action: str
    title: str  # how the bundle says it ("Remove mailbox forwarding")


@dataclass(frozen=True)
class SyncedAccount:
    """Directory sync can undo this action on an account synced from on-premises: offer `alternative` beside it
    (which sync cannot undo), and say `warning` before it runs."""

    alternative: str
    warning: str


@dataclass(frozen=True)
class ActionSpec:
    """One remediation, described completely: reading its file tells a newcomer everything about it."""

    name: str
    title: str
    description: str
    role: Role
    reversible: bool
    reversal: str  # how to reverse it, shown on the card before and after
    run: Callable[[ActionContext], Awaitable[Outcome]]
    permission: str  # the Graph/Exchange application permission it needs (README table)
    not_applicable: NotApplicableReason = always_applies
    needs_approval: bool = False
    destructive: bool = False
    undo: str | None = None
    undo_title: str = ""  # the undo button's label after this action ran ("Disable again"); default: undo's title
    item_kind: str | None = None  # acts on one listed item of this kind (chosen on the card)
    needs_saved: bool = False  # an undo: runs only with what the reversed action saved
    inline: bool = False  # runs before the click is answered: its result goes only to the clicker
    offered_on_alert: bool = True  # shown as a button on the alert card (undo and per-item actions are not)
    read_back: ReadBackFn | None = None  # reads the state the action changes; every state-changing action has one
    verify: VerifyFn | None = None
    read_only: bool = False  # a listing: changes nothing, so there is nothing to read back
    # Delegated mode (RIPOSTE_PRIVILEGED_ACTIONS=delegated): the Graph permission the person's own token needs, and
    # the Entra roles Graph requires of that signed-in person (any one). `delegated_admin_roles`: when the target
    # holds a privileged directory role (the call then runs with the person's token); `delegated_roles`: on anyone
    # (reset_password: always the person's token). Neither: the app's own rights run it (Exchange, mailboxes).
    delegated_scope: str = ""
    delegated_admin_roles: tuple[str, ...] = ()
    delegated_roles: tuple[str, ...] = ()
    lists: str = ""  # a listing: the kind of item it shows (with the per-item buttons of that kind)
    # What the card and a run need beyond the call (bot/ reads these; it never branches on an action's name):
    inputs: tuple[CardInput, ...] = ()  # choices on the card it reads (per-item actions: shown with the listing)
    steps: tuple[BundleStep, ...] = ()  # a bundle of other actions
    changes_target: bool = False  # changes what the card shows about the user (enabled or not): re-read it after
    contains: bool = False  # containment: once done, the user is watched for changes that undo it
    watches: frozenset[Aspect] = frozenset()  # the aspects of the user it changes on purpose
    on_synced: SyncedAccount | None = None
    # Its saved copy is also kept per user under this name (a Redis key part): its undo finds it from any case
    # (`unblock <user>`), and its next run gets it as ctx.previous.
    kept_per_user: str = ""
    excludes_protected: bool = False  # gets the protected accounts' object ids as options["protected_user_ids"]
    find_saved: FindSavedFn | None = None
