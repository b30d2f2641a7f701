"""Alert intake formats: the native alert and Microsoft Graph's security alert (alerts_v2), both to `Alert`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

SEVERITIES = ("informational", "low", "medium", "high", "critical")
EVIDENCE_KINDS = ("inbox_rule", "app", "teams_app", "ip", "mailbox", "auth_method", "transport_rule")
MAX_TEXT = 4000
USER_PATTERN = re.compile(
    r"^([^@\s]+@[^@\s]+\.[^@\s]+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)


class AlertInvalid(ValueError):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {why}" for name, why in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class Evidence:
    kind: str
    id: str
    name: str = ""


class Alert(BaseModel):
    """Kept in Redis inside its case, and in a case's list of the alerts that joined it (as JSON, by pydantic)."""

    model_config = ConfigDict(frozen=True)

    id: str
    source: str
    title: str
    severity: str
    user: str
    detected_at: str = ""
    description: str = ""
    category: str = ""
    confidence: str = ""
    evidence: tuple[Evidence, ...] = ()
    recommended_actions: str = ""  # the source's own advice (Graph alerts_v2 recommendedActions), shown as given
    requested_by: str = ""  # a typed command's card: the object id of who typed it (they may always cancel it)
    origin: str = "native"  # how it arrived: "native" (the native shape) or "graph" (a Graph alerts_v2 body)


def _text(body: dict[str, Any], name: str, problems: dict[str, str], *, required: bool) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            problems[name] = "is required"
        return ""
    if not isinstance(value, str):
        problems[name] = "must be a string"
        return ""
    if len(value) > MAX_TEXT:
        problems[name] = f"is longer than {MAX_TEXT} characters"
        return ""
    return value.strip()


def _evidence(raw: Any, problems: dict[str, str]) -> tuple[Evidence, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems["evidence"] = "must be a list of {kind, id, name}"
        return ()
    found: list[Evidence] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            problems[f"evidence[{index}]"] = "must be an object with a string id"
            continue
        kind = item.get("kind")
        if kind not in EVIDENCE_KINDS:
            problems[f"evidence[{index}].kind"] = f"must be one of {', '.join(EVIDENCE_KINDS)}"
            continue
        name = item.get("name") if isinstance(item.get("name"), str) else ""
        found.append(Evidence(kind=kind, id=item["id"][:MAX_TEXT], name=str(name)[:MAX_TEXT]))
    return tuple(found)


def parse_native(body: dict[str, Any]) -> Alert:
    problems: dict[str, str] = {}
    alert_id = _text(body, "id", problems, required=True)
    title = _text(body, "title", problems, required=True)
    severity = _text(body, "severity", problems, required=True).lower()
    if severity and severity not in SEVERITIES and "severity" not in problems:
        problems["severity"] = f"must be one of {', '.join(SEVERITIES)}"
    user = _text(body, "user", problems, required=True)
    if user and not USER_PATTERN.match(user):
        problems["user"] = "must be a UPN (alice@contoso.com) or an Entra object id"
    evidence = _evidence(body.get("evidence"), problems)
    optional = {name: _text(body, name, problems, required=False)
                for name in ("source", "detected_at", "description", "category", "confidence", "recommended_actions")}
    if problems:
        raise AlertInvalid(problems)
    return Alert(
        id=alert_id, title=title, severity=severity, user=user, evidence=evidence,
        source=optional["source"] or "webhook", detected_at=optional["detected_at"],
        description=optional["description"], category=optional["category"], confidence=optional["confidence"],
        recommended_actions=optional["recommended_actions"],
    )


def is_graph_alert(body: dict[str, Any]) -> bool:
    odata_type = str(body.get("@odata.type", ""))
    return odata_type == "#microsoft.graph.security.alert" or ("detectionSource" in body and "evidence" in body)


_GRAPH_EVIDENCE = {
    "#microsoft.graph.security.ipEvidence": ("ip", "ipAddress"),
    "#microsoft.graph.security.mailboxEvidence": ("mailbox", "primaryAddress"),
    "#microsoft.graph.security.oauthApplicationEvidence": ("app", "appId"),
}


def parse_graph_alert(body: dict[str, Any]) -> Alert:
    """Map a Graph security alert (alerts_v2) onto the native shape, then validate it the same way."""
    user = ""
    evidence: list[dict[str, str]] = []
    for item in body.get("evidence") or []:
        if not isinstance(item, dict):
            continue
        odata_type = item.get("@odata.type", "")
        if odata_type == "#microsoft.graph.security.userEvidence" and not user:
            account = item.get("userAccount") or {}
            user = account.get("azureAdUserId") or account.get("userPrincipalName") or ""
        elif odata_type in _GRAPH_EVIDENCE:
            kind, key = _GRAPH_EVIDENCE[odata_type]
            if item.get(key):
                evidence.append({"kind": kind, "id": str(item[key]), "name": str(item.get("displayName", ""))})
    severity = str(body.get("severity", "")).lower()
    native = {
        "id": body.get("id"), "title": body.get("title"),
        "severity": "informational" if severity in ("unknown", "unknownfuturevalue") else severity,
        "user": user or None, "source": str(body.get("detectionSource") or "graph"),
        "detected_at": body.get("createdDateTime"), "description": body.get("description"),
        "category": body.get("category"), "evidence": evidence,
        "recommended_actions": body.get("recommendedActions"),
    }
    return parse_native(native).model_copy(update={"origin": "graph"})


def parse_alert(body: Any) -> Alert:
    if not isinstance(body, dict):
        raise AlertInvalid({"body": "must be a JSON object"})
    return parse_graph_alert(body) if is_graph_alert(body) else parse_native(body)
