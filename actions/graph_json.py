"""msgraph-sdk models ↔ Graph's JSON shape, so the Tenant port speaks plain dicts (storable with a case, SDK-free).

Both directions go through kiota's own JSON serializer, so the dicts are exactly what Graph sends and accepts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from kiota_abstractions.serialization import Parsable
from kiota_serialization_json.json_parse_node import JsonParseNode
from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter

P = TypeVar("P", bound=Parsable)


def to_json(model: Parsable | None) -> dict[str, Any]:
    """The model as Graph's JSON object (unset properties left out)."""
    if model is None:
        return {}
    writer = JsonSerializationWriter()
    writer.write_object_value(None, model)
    data: dict[str, Any] = json.loads(writer.get_serialized_content() or b"{}")
    return data


def from_json(data: Mapping[str, Any], model: type[P]) -> P:
    """A typed model from Graph's JSON object (as a request body for the SDK's request builders)."""
    node = JsonParseNode(json.loads(json.dumps(dict(data))))
    parsed: P | None = node.get_object_value(model)  # type: ignore[arg-type]
    if parsed is None:
        raise ValueError(f"could not build a {model.__name__} from {sorted(data)}")
    return parsed
