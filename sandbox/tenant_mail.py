"""Graph v1.0 mailbox routes: inbox rules and mailbox settings (Exchange-backed, so Exchange error codes)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aiohttp import web

from sandbox.tenant_http import GraphError, bad_request, collection, graph_json, json_body, no_content, state_of
from sandbox.tenant_state import TenantState
from sandbox.tenant_users import graph_user

T = TypeVar("T")

routes = web.RouteTableDef()

_RULES = "/v1.0/users/{id}/mailFolders/{folder}/messageRules"
_RULE_FIELDS = {"displayName": str, "sequence": int, "isEnabled": bool, "conditions": dict, "actions": dict,
                "exceptions": dict}


def _item_not_found() -> GraphError:
    return GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def _mailbox_part(request: web.Request, part: Callable[[TenantState], Mapping[str, T]]) -> tuple[str, T]:
    """The user's id and their entry in `part` of the state (rules, folders, settings); Graph's 404 for a user
    without an Exchange Online mailbox."""
    user = graph_user(request)
    found = part(state_of(request)).get(user["id"])
    if found is None:
        raise GraphError(404, "MailboxNotEnabledForRESTAPI",
                         "The mailbox is either inactive, soft-deleted, or is hosted on-premise.")
    return user["id"], found


def _rules_of(request: web.Request) -> tuple[str, list[dict[str, Any]]]:
    """The user's inbox rules."""
    user_id, rules = _mailbox_part(request, lambda state: state.inbox_rules)
    if request.match_info["folder"].lower() != "inbox":
        raise _item_not_found()
    return user_id, rules


def _find_rule(request: web.Request, rules: list[dict[str, Any]]) -> dict[str, Any]:
    rule_id = request.match_info["rule"]
    for rule in rules:
        if rule["id"] == rule_id:
            return rule
    raise _item_not_found()


def _rule_json(rule: dict[str, Any]) -> dict[str, Any]:
    return {"hasError": False, "isReadOnly": False, **rule}


def _check_fields(body: dict[str, Any]) -> None:
    for name, value in body.items():
        expected = _RULE_FIELDS.get(name)
        if expected is None:
            raise bad_request(f"The property '{name}' does not exist on type 'microsoft.graph.messageRule'.",
                              code="RequestBodyRead")
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise bad_request(f"Invalid value for property '{name}'.", code="RequestBodyRead")


@routes.get(_RULES)
async def list_rules(request: web.Request) -> web.Response:
    user_id, rules = _rules_of(request)
    return collection(f"users('{user_id}')/mailFolders('inbox')/messageRules", [_rule_json(r) for r in rules])


@routes.get(_RULES + "/{rule}")
async def get_rule(request: web.Request) -> web.Response:
    _, rules = _rules_of(request)
    return graph_json(_rule_json(_find_rule(request, rules)))


@routes.post(_RULES)
async def create_rule(request: web.Request) -> web.Response:
    _, rules = _rules_of(request)
    body = await json_body(request)
    _check_fields(body)
    if not body.get("displayName"):
        raise bad_request("The displayName property is required.", code="ErrorInvalidRequest")
    # Exchange rule ids look like base64 of a small little-endian header plus an index.
    rule_id = base64.b64encode(b"\x01\x00\x00\x00" + secrets.token_bytes(4)).decode()
    rule = {"id": rule_id, "sequence": len(rules) + 1, "isEnabled": True, "conditions": {}, "actions": {}, **body}
    rules.append(rule)
    return graph_json(_rule_json(rule), status=201)


@routes.patch(_RULES + "/{rule}")
async def update_rule(request: web.Request) -> web.Response:
    _, rules = _rules_of(request)
    rule = _find_rule(request, rules)
    body = await json_body(request)
    _check_fields(body)
    rule.update(body)
    return graph_json(_rule_json(rule))


@routes.delete(_RULES + "/{rule}")
async def delete_rule(request: web.Request) -> web.Response:
    _, rules = _rules_of(request)
    rules.remove(_find_rule(request, rules))
    return no_content()


@routes.get("/v1.0/users/{id}/mailFolders/{folder}")
async def get_folder(request: web.Request) -> web.Response:
    """One folder, by id or by well-known name (Graph's mailFolder resource, without item counts' upkeep)."""
    user_id, folders = _mailbox_part(request, lambda state: state.mail_folders)
    wanted = request.match_info["folder"]
    folder = next((f for f in folders if f["id"] == wanted or f.get("wellKnownName") == wanted.lower()), None)
    if folder is None:
        raise _item_not_found()
    context = f"https://graph.microsoft.com/v1.0/$metadata#users('{user_id}')/mailFolders/$entity"
    return graph_json({"@odata.context": context, "id": folder["id"], "displayName": folder["displayName"],
                       "parentFolderId": None, "childFolderCount": 0, "unreadItemCount": 0, "totalItemCount": 0,
                       "isHidden": False})


@routes.get("/v1.0/users/{id}/mailboxSettings")
async def mailbox_settings(request: web.Request) -> web.Response:
    user_id, settings = _mailbox_part(request, lambda state: state.mailbox_settings)
    context = f"https://graph.microsoft.com/v1.0/$metadata#users('{user_id}')/mailboxSettings"
    return graph_json({"@odata.context": context, **settings})
