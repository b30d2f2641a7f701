"""Load the sandbox tenant's starting state from the readable data file beside this module."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

SEED_PATH = Path(__file__).with_name("seed.json")


def load_seed(path: Path | None = None) -> dict[str, Any]:
    """A fresh, independent copy of the seed data (callers may mutate it)."""
    with (path or SEED_PATH).open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return copy.deepcopy(data)
