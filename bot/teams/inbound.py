"""What /api/messages accepts before botbuilder sees it: a JSON object shaped like a Bot Framework activity.

botbuilder answers 500 (with a traceback) for anything else. Only what its deserializer would choke on is checked
here, with a message naming the field; botbuilder's own deserialization catches the rest (e.g. timestamps)."""

from __future__ import annotations

import json
from typing import Any

# Fields botbuilder deserializes as strings (it keeps whatever it is given, and the turn then fails on it), into
# a model (an object), or into a list of models.
_STRING_FIELDS = ("id", "localTimezone", "serviceUrl", "channelId", "textFormat", "attachmentLayout", "topicName",
                  "locale", "text", "speak", "inputHint", "summary", "action", "replyToId", "label", "valueType",
                  "name", "code", "importance", "deliveryMode", "callerId")
_ACCOUNT_STRINGS = ("id", "name", "aadObjectId", "role", "conversationType", "tenantId")
_OBJECT_FIELDS = ("from", "recipient", "conversation", "relatesTo", "suggestedActions", "semanticAction",
                  "channelData")
_LIST_FIELDS = ("membersAdded", "membersRemoved", "reactionsAdded", "reactionsRemoved", "attachments", "entities",
                "textHighlights")
NOT_AN_ACTIVITY = "body must be a JSON object (a Bot Framework activity)"


class BadActivity(ValueError):
    """The body is not an activity; the message says why, for the caller (answered with 400)."""


def parse_activity(raw: bytes) -> dict[str, Any]:
    """The body parsed once, or BadActivity."""
    if not raw.strip():
        raise BadActivity(f"empty body: {NOT_AN_ACTIVITY}")
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise BadActivity(f"body is not UTF-8 (byte {error.start}): {NOT_AN_ACTIVITY}") from None
    except json.JSONDecodeError as error:
        raise BadActivity(f"body is not JSON ({error.msg} at {error.pos}): {NOT_AN_ACTIVITY}") from None
    except RecursionError:
        raise BadActivity(f"body is nested too deeply: {NOT_AN_ACTIVITY}") from None
    if not isinstance(body, dict):
        raise BadActivity(f"{NOT_AN_ACTIVITY}, not a JSON {_json_kind(body)}")
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        raise BadActivity("activity `type` must be a non-empty string")
    for field in _STRING_FIELDS:
        value = body.get(field)
        if value is not None and not isinstance(value, str):
            raise BadActivity(f"activity `{field}` must be a string, not a JSON {_json_kind(value)}")
    for field in _OBJECT_FIELDS:
        value = body.get(field)
        if value is not None and not isinstance(value, dict):
            raise BadActivity(f"activity `{field}` must be an object, not a JSON {_json_kind(value)}")
    for field in _LIST_FIELDS:
        value = body.get(field)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            raise BadActivity(f"activity `{field}` must be a list of objects")
    # Every channel sends these; without them botbuilder cannot build the turn or answer in the conversation.
    for field in ("from", "conversation"):
        if field not in body:
            raise BadActivity(f"activity has no `{field}`")
        for key in _ACCOUNT_STRINGS:
            value = body[field].get(key)
            if value is not None and not isinstance(value, str):
                raise BadActivity(f"activity `{field}.{key}` must be a string, not a JSON {_json_kind(value)}")
    if not body["conversation"].get("id"):
        raise BadActivity("activity `conversation.id` must be a non-empty string")
    if not body.get("serviceUrl"):
        raise BadActivity("activity `serviceUrl` must be a non-empty string")
    if kind == "conversationUpdate" and body.get("channelId") == "msteams" and "channelData" not in body:
        raise BadActivity("a Teams conversationUpdate needs `channelData`")  # botbuilder's Teams handler reads it
    return body


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    return "null" if value is None else type(value).__name__
