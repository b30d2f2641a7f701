"""Exchange Online admin REST (`/adminapi/beta/{tenant}/InvokeCommand`): the cmdlets Riposte runs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web

from actions.transport_rule_parameters import NEW_TRANSPORT_RULE
from sandbox.tenant_http import ExchangeError, graph_json, json_body, state_of
from sandbox.tenant_state import TenantState

routes = web.RouteTableDef()

# The server name Exchange puts in its not-found message; made up like every other id here.
_DC = "SN6PR04A001DC01.NAMPR04A001.PROD.OUTLOOK.COM"
_COMMON = {"confirm", "erroraction", "warningaction", "whatif"}


class Params(dict[str, Any]):
    """Cmdlet parameters keyed by lower-cased name (PowerShell ignores case); `.original` keeps the casing."""

    def __init__(self, original: dict[str, Any]) -> None:
        super().__init__((key.lower(), value) for key, value in original.items())
        self.original = original
        self.warnings: list[str] = []  # what the cmdlet warns about: Exchange sends them as @adminapi.warnings


Cmdlet = Callable[[TenantState, Params], list[dict[str, Any]]]


def _not_found(identity: Any) -> ExchangeError:
    return ExchangeError(404, "NotFound",
                         f"The operation couldn't be performed because object '{identity}' couldn't be found "
                         f"on '{_DC}'.")


def _bad(message: str) -> ExchangeError:
    return ExchangeError(400, "BadRequest", message)


def _alias(user: dict[str, Any]) -> str:
    return str(user.get("mail") or user["userPrincipalName"]).split("@", 1)[0]


def _recipient(state: TenantState, identity: Any) -> dict[str, Any]:
    """Resolve an Exchange -Identity / -User: object id, UPN, SMTP address, alias or display name."""
    key = str(identity).removeprefix("smtp:").removeprefix("SMTP:")
    user = state.find_user(key)
    if user is None:
        user = next((u for u in state.users.values()
                     if key.lower() in (_alias(u).lower(), str(u["displayName"]).lower())), None)
    if user is None:
        raise _not_found(identity)
    return user


def _mailbox(state: TenantState, params: Params) -> tuple[dict[str, Any], dict[str, Any]]:
    if "identity" not in params:
        raise _bad("Cannot process command because of one or more missing mandatory parameters: Identity.")
    user = _recipient(state, params["identity"])
    if user["id"] not in state.mailboxes:
        raise _not_found(params["identity"])
    return user, state.mailboxes[user["id"]]


def _mailbox_json(user: dict[str, Any], box: dict[str, Any]) -> dict[str, Any]:
    return {"Identity": _alias(user), "Name": _alias(user), "Alias": _alias(user), "DisplayName": user["displayName"],
            "UserPrincipalName": user["userPrincipalName"], "PrimarySmtpAddress": user["mail"],
            "ExternalDirectoryObjectId": user["id"], "RecipientTypeDetails": "UserMailbox",
            "ForwardingSmtpAddress": box["forwardingSmtpAddress"], "ForwardingAddress": box["forwardingAddress"],
            "DeliverToMailboxAndForward": box["deliverToMailboxAndForward"]}


def get_mailbox(state: TenantState, params: Params) -> list[dict[str, Any]]:
    if "identity" in params:
        return [_mailbox_json(*_mailbox(state, params))]
    return [_mailbox_json(state.users[uid], box) for uid, box in state.mailboxes.items()]


def set_mailbox(state: TenantState, params: Params) -> list[dict[str, Any]]:
    _, box = _mailbox(state, params)
    updates: dict[str, Any] = {}
    if "forwardingsmtpaddress" in params:
        address = params["forwardingsmtpaddress"]
        if address is not None:
            bare = str(address).split(":", 1)[-1]
            if "@" not in bare:
                raise _bad(f"Cannot bind parameter 'ForwardingSmtpAddress'. Invalid SMTP address: '{address}'.")
            address = f"smtp:{bare}"  # Exchange stores the proxy-address form
        updates["forwardingSmtpAddress"] = address
    if "forwardingaddress" in params:
        target = params["forwardingaddress"]
        updates["forwardingAddress"] = None if target is None else _alias(_recipient(state, target))
    if "delivertomailboxandforward" in params:
        if not isinstance(params["delivertomailboxandforward"], bool):
            raise _bad("Cannot process argument transformation on parameter 'DeliverToMailboxAndForward'.")
        updates["deliverToMailboxAndForward"] = params["delivertomailboxandforward"]
    if all(box.get(key) == value for key, value in updates.items()):
        params.warnings.append(f"The command completed successfully but no settings of '{params['identity']}' "
                               "have been modified.")
    box.update(updates)
    return []


def _rights(params: Params) -> set[str]:
    rights = params.get("accessrights") or []
    return {str(r).lower() for r in ([rights] if isinstance(rights, str) else rights)}


def _permission(user: dict[str, Any], holder: str, rights: list[str]) -> dict[str, Any]:
    return {"Identity": _alias(user), "User": holder, "AccessRights": rights, "IsInherited": False, "Deny": False,
            "InheritanceType": "All"}


def get_mailbox_permission(state: TenantState, params: Params) -> list[dict[str, Any]]:
    user, box = _mailbox(state, params)
    entries = [_permission(user, "NT AUTHORITY\\SELF", ["FullAccess, ReadPermission"])]
    entries += [_permission(user, holder, ["FullAccess"]) for holder in box["fullAccess"]]
    if "user" in params:
        entries = [e for e in entries if e["User"].lower() == str(params["user"]).lower()]
    return entries


def add_mailbox_permission(state: TenantState, params: Params) -> list[dict[str, Any]]:
    user, box = _mailbox(state, params)
    if "fullaccess" not in _rights(params) or "user" not in params:
        raise _bad("The sandbox models only -AccessRights FullAccess with -User.")
    holder = _recipient(state, params["user"])["userPrincipalName"]
    if holder.lower() not in (h.lower() for h in box["fullAccess"]):
        box["fullAccess"].append(holder)
    return [_permission(user, holder, ["FullAccess"])]


def remove_mailbox_permission(state: TenantState, params: Params) -> list[dict[str, Any]]:
    _, box = _mailbox(state, params)
    if "user" not in params or not _rights(params):
        raise _bad("Cannot process command because of one or more missing mandatory parameters: User AccessRights.")
    if "fullaccess" in _rights(params):
        holder = str(params["user"]).lower()
        if holder not in (h.lower() for h in box["fullAccess"]):  # Exchange only warns when the entry isn't there
            params.warnings.append(f"Can't remove the access control entry on the object \"{params['identity']}\" "
                                   f"for account \"{params['user']}\" because the ACE doesn't exist on the object.")
        box["fullAccess"] = [h for h in box["fullAccess"] if h.lower() != holder]
    return []


def _transport_rule(state: TenantState, identity: Any) -> dict[str, Any]:
    key = str(identity).lower()
    for rule in state.transport_rules:
        if key in (str(rule.get("Identity")).lower(), str(rule.get("Name")).lower(), str(rule.get("Guid")).lower()):
            return rule
    raise _not_found(identity)


# What Get-TransportRule returns for any rule beside its own settings: unset conditions and actions come back null
# or false, and it adds properties New-TransportRule does not take (ids, state, derived text, DLP bookkeeping).
_RULE_OUTPUT_DEFAULTS: dict[str, Any] = {
    "Mode": "Enforce", "RuleErrorAction": "Ignore", "SenderAddressLocation": "Header", "RuleSubType": "None",
    "UseLegacyRegex": False, "HasSenderOverride": False, "ExceptIfHasSenderOverride": False,
    "MessageContainsDataClassifications": None, "ExceptIfMessageContainsDataClassifications": None,
    "HasNoClassification": False, "AttachmentIsUnsupported": False, "AttachmentHasExecutableContent": False,
    "StopRuleProcessing": False, "DeleteMessage": False, "Disconnect": False, "Quarantine": False,
    "RouteMessageOutboundRequireTls": False, "ApplyOME": False, "RemoveOME": False, "RemoveOMEv2": False,
    "ModerateMessageByManager": False, "DlpPolicy": None, "DlpPolicyId": "00000000-0000-0000-0000-000000000000",
    "SenderNotificationType": None, "ActivationDate": None, "ExpiryDate": None, "ManuallyModified": False,
    "IsRuleConfigurationSupported": True, "RuleVersion": "15.0.5.2", "ExchangeVersion": "0.1 (8.0.535.0)",
    "IsValid": True, "ObjectState": "Unchanged",
}


def _rule_output(rule: dict[str, Any]) -> dict[str, Any]:
    name = str(rule["Name"])
    guid = str(rule.get("Guid") or uuid.uuid5(uuid.NAMESPACE_URL, f"transport-rule/{name}"))
    conditions = [f"Microsoft.Exchange.MessagingPolicies.Rules.Tasks.{key}Predicate" for key in rule
                  if key in ("SentToMemberOf", "SentTo", "From", "FromMemberOf", "SubjectContainsWords")]
    actions = [f"Microsoft.Exchange.MessagingPolicies.Rules.Tasks.{key}Action" for key in rule
               if key in ("BlindCopyTo", "CopyTo", "AddToRecipients", "RedirectMessageTo", "DeleteMessage")]
    return {
        **_RULE_OUTPUT_DEFAULTS, **rule, "Identity": name, "Name": name, "Guid": guid, "ImmutableId": guid,
        "DistinguishedName": f"CN={name},CN=TransportVersioned,CN=Rules,CN=Transport Settings,CN=Contoso,CN=Microsoft "
                             "Exchange,CN=Services,CN=Configuration,DC=NAMPR04A001,DC=PROD,DC=OUTLOOK,DC=COM",
        "Description": f"If the message: {', '.join(conditions) or 'applies to all messages'}",
        "Conditions": conditions, "Exceptions": None, "Actions": actions,
        "WhenChanged": "2026-11-21T10:00:00+00:00",
    }


def get_transport_rule(state: TenantState, params: Params) -> list[dict[str, Any]]:
    if "identity" in params:
        return [_rule_output(_transport_rule(state, params["identity"]))]
    return [_rule_output(rule) for rule in state.transport_rules]


def remove_transport_rule(state: TenantState, params: Params) -> list[dict[str, Any]]:
    if "identity" not in params:
        raise _bad("Cannot process command because of one or more missing mandatory parameters: Identity.")
    state.transport_rules.remove(_transport_rule(state, params["identity"]))
    return []


def new_transport_rule(state: TenantState, params: Params) -> list[dict[str, Any]]:
    name = params.get("name")
    if not name:
        raise _bad("Cannot process command because of one or more missing mandatory parameters: Name.")
    if any(str(r.get("Name")).lower() == str(name).lower() for r in state.transport_rules):
        raise _bad(f"A transport rule with the name '{name}' already exists.")
    # A parameter given its default value (Mode Enforce, ...) is no setting of the rule's own.
    extra = {k: v for k, v in params.original.items()
             if k.lower() not in _COMMON | {"name", "enabled"} and _RULE_OUTPUT_DEFAULTS.get(k, object()) != v}
    rule = {"Identity": name, "Name": name, "Guid": str(uuid.uuid4()),
            "State": "Enabled" if params.get("enabled", True) else "Disabled",
            "Priority": len(state.transport_rules), **extra}
    state.transport_rules.append(rule)
    return [rule]


def get_accepted_domain(state: TenantState, params: Params) -> list[dict[str, Any]]:
    """The tenant's accepted domains: its own and the initial .onmicrosoft.com one (a harmless read, for doctor)."""
    domain = str(state.tenant.get("domain", "contoso.com"))
    initial = f"{domain.split('.')[0]}.onmicrosoft.com"
    return [{"Name": name, "DomainName": name, "DomainType": "Authoritative", "Default": name == domain,
             "InitialDomain": name == initial} for name in (domain, initial)]


# name -> (handler, parameters it takes beyond _COMMON; None: any)
_CMDLETS: dict[str, tuple[Cmdlet, set[str] | None]] = {
    "get-accepteddomain": (get_accepted_domain, {"identity"}),
    "get-mailbox": (get_mailbox, {"identity", "resultsize"}),
    "set-mailbox": (set_mailbox, {"identity", "forwardingsmtpaddress", "forwardingaddress",
                                  "delivertomailboxandforward"}),
    "get-mailboxpermission": (get_mailbox_permission, {"identity", "user"}),
    "add-mailboxpermission": (add_mailbox_permission, {"identity", "user", "accessrights", "inheritancetype",
                                                       "automapping"}),
    "remove-mailboxpermission": (remove_mailbox_permission, {"identity", "user", "accessrights", "inheritancetype",
                                                             "bypassmasteraccountsid"}),
    "get-transportrule": (get_transport_rule, {"identity"}),
    "remove-transportrule": (remove_transport_rule, {"identity"}),
    # Exchange refuses any other parameter: "A parameter cannot be found that matches parameter name ...".
    "new-transportrule": (new_transport_rule, {name.lower() for name in NEW_TRANSPORT_RULE}),
}


def _page_size(request: web.Request) -> int:
    """`Prefer: odata.maxpagesize=N`, capped by the sandbox's own page size (tests shrink it to see paging)."""
    asked = re.search(r"odata\.maxpagesize\s*=\s*(\d+)", request.headers.get("Prefer", ""))
    limit = state_of(request).exchange_page_size
    return max(1, min(int(asked.group(1)), limit)) if asked else limit


@routes.post("/adminapi/beta/{tenant}/InvokeCommand")
async def invoke_command(request: web.Request) -> web.Response:
    if not request.headers.get("X-AnchorMailbox"):
        # Exchange routes admin calls by this header; the sandbox insists so a client that forgets it is caught.
        raise _bad("Sandbox: the X-AnchorMailbox header is missing (Exchange routes admin calls by it).")
    cmdlet_input = (await json_body(request)).get("CmdletInput")
    if not isinstance(cmdlet_input, dict) or not isinstance(cmdlet_input.get("CmdletName"), str):
        raise _bad("The request body must contain CmdletInput with a CmdletName.")
    name: str = cmdlet_input["CmdletName"]
    raw = cmdlet_input.get("Parameters") or {}
    if not isinstance(raw, dict):
        raise _bad("CmdletInput.Parameters must be an object.")
    if name.lower() not in _CMDLETS:
        raise _bad(f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, "
                   "or operable program.")
    handler, allowed = _CMDLETS[name.lower()]
    for key in raw:
        if allowed is not None and key.lower() not in allowed | _COMMON:
            raise _bad(f"A parameter cannot be found that matches parameter name '{key}'.")
    state = state_of(request)
    token = request.query.get("$skiptoken")
    params = Params(raw)
    value = state.exchange_pages.pop(token, []) if token else handler(state, params)
    size = _page_size(request)
    context = (f"https://outlook.office365.com/adminapi/beta/{request.match_info['tenant']}"
               "/$metadata#Collection(Exchange.GenericHashTable)")
    answer: dict[str, Any] = {"@odata.context": context, "value": value[:size]}
    if params.warnings:
        answer["@adminapi.warnings"] = params.warnings
    if len(value) > size:  # the rest waits under a token (the cmdlet ran once; paging does not re-run it)
        token = uuid.uuid4().hex
        state.exchange_pages[token] = value[size:]
        answer["@odata.nextLink"] = str(request.url.with_query({"$skiptoken": token}))
    return graph_json(answer)
