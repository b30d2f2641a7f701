"""Sandbox control: undo containment the way the world does, so the watcher (bot/watch) has something to find.

`POST /_sandbox/revert` with `{"what": ..., "user": <upn or id>, ...}`:

- `sync_enable`: directory sync re-enables the account (accountEnabled true)
- `recreate_rule`: the attacker re-creates the user's seeded inbox rules that are gone (new ids) and re-enables the
  disabled ones; or, with `"rule": {...}`, creates that rule
- `forwarding`: mailbox forwarding to `"address"` (default smtp:exfil@evil.example)
- `auth_method`: a new phone method (`"phone"`, default +1 2065550100)
- `consent`: the user consents to the seeded app “Mail Sync Pro” again (a new grant)
- `full_access`: FullAccess on the mailbox for `"holder"` (default mallory@contoso.com)
- `block_policy`: the user's Riposte block policy is disabled (`"delete": true` deletes it)

Not part of any Microsoft API; the answer says what changed.
"""

from __future__ import annotations

import base64
import copy
import secrets
import uuid
from typing import Any

from aiohttp import web

from sandbox.tenant_http import state_of
from sandbox.tenant_state import TenantState

routes = web.RouteTableDef()
REVERT_PATH = "/_sandbox/revert"


def _new_rule_id() -> str:
    return base64.b64encode(b"\x01\x00\x00\x00" + secrets.token_bytes(4)).decode()


def _recreate_rules(state: TenantState, user: dict[str, Any], body: dict[str, Any]) -> list[str]:
    rules = state.inbox_rules.setdefault(user["id"], [])
    wanted = [body["rule"]] if isinstance(body.get("rule"), dict) else [
        rule for raw in state.seed_users() if raw["id"] == user["id"]
        for rule in (raw.get("mailbox") or {}).get("inboxRules", [])]
    done = []
    for rule in wanted:
        present = next((r for r in rules if r["id"] == rule.get("id")), None)
        if present is not None:
            if not present.get("isEnabled", True):
                present["isEnabled"] = True
                done.append(f"re-enabled rule {present.get('displayName')!r}")
            continue
        created = {**copy.deepcopy(rule), "id": _new_rule_id(), "isEnabled": True, "sequence": len(rules) + 1}
        rules.append(created)
        done.append(f"created rule {created.get('displayName')!r} ({created['id']})")
    return done


def _apply(state: TenantState, what: str, user: dict[str, Any], body: dict[str, Any]) -> list[str]:
    uid = user["id"]
    if what == "sync_enable":
        user["accountEnabled"] = True
        return ["accountEnabled true"]
    if what == "recreate_rule":
        return _recreate_rules(state, user, body)
    if what in ("forwarding", "full_access") and uid not in state.mailboxes:
        raise web.HTTPBadRequest(text=f"{user['userPrincipalName']} has no mailbox")
    if what == "forwarding":
        address = str(body.get("address") or "smtp:exfil@evil.example")
        state.mailboxes[uid]["forwardingSmtpAddress"] = address
        return [f"forwarding to {address}"]
    if what == "full_access":
        holder = str(body.get("holder") or "mallory@contoso.com")
        state.mailboxes[uid]["fullAccess"].append(holder)
        return [f"FullAccess for {holder}"]
    if what == "auth_method":
        method = {"id": str(uuid.uuid4()), "@odata.type": "#microsoft.graph.phoneAuthenticationMethod",
                  "phoneNumber": str(body.get("phone") or "+1 2065550100"), "phoneType": "mobile",
                  "createdDateTime": "2026-11-21T11:00:00Z"}
        state.auth_methods.setdefault(uid, []).append(method)
        return [f"phone method {method['id']}"]
    if what == "consent":
        grant_id = base64.urlsafe_b64encode(secrets.token_bytes(12)).decode().rstrip("=")
        state.oauth2_grants[grant_id] = {
            "id": grant_id, "clientId": "5a000000-0000-4000-8000-000000000001", "consentType": "Principal",
            "principalId": uid, "resourceId": "5a000000-0000-4000-8000-0000000000ff",
            "scope": "Mail.ReadWrite Mail.Send offline_access"}
        return [f"consent grant {grant_id}"]
    if what == "block_policy":
        found = [policy for policy in state.ca_policies.values()
                 if uid in ((policy.get("conditions") or {}).get("users") or {}).get("includeUsers", [])
                 and str(policy.get("displayName", "")).startswith("Riposte block: ")]
        for policy in found:
            if body.get("delete"):
                del state.ca_policies[policy["id"]]
            else:
                policy["state"] = "disabled"
        return [f"{'deleted' if body.get('delete') else 'disabled'} policy {p['displayName']!r}" for p in found]
    raise web.HTTPBadRequest(text=f"unknown revert {what!r}")


@routes.post(REVERT_PATH)
async def revert(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("what"), str) or not isinstance(body.get("user"), str):
        return web.json_response({"error": 'expected {"what": ..., "user": <upn or id>}'}, status=400)
    state = state_of(request)
    user = state.find_user(body["user"])
    if user is None:
        return web.json_response({"error": f"no user {body['user']!r}"}, status=404)
    try:
        done = _apply(state, body["what"], user, body)
    except web.HTTPBadRequest as error:
        return web.json_response({"error": error.text}, status=400)
    return web.json_response({"reverted": done})
