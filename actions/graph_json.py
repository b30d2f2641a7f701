"""Graph's JSON shape → msgraph-sdk models, for request bodies, so the Tenant port speaks plain dicts (storable
with a case, SDK-free). Reads need no conversion: they are parsed as Graph's JSON (actions.graph.get_json)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from kiota_abstractions.serialization import Parsable
from kiota_serialization_json.json_parse_node import JsonParseNode

P = TypeVar("P", bound=Parsable)


def from_json(data: Mapping[str, Any], model: type[P]) -> P:
    """A typed model from Graph's JSON object (as a request body for the SDK's request builders)."""
    node = JsonParseNode(json.loads(json.dumps(dict(data))))
    parsed: P | None = node.get_object_value(model)  # type: ignore[arg-type]
    if parsed is None:
        raise ValueError(f"could not build a {model.__name__} from {sorted(data)}")
    return parsed
