"""botbuilder `Storage` on Redis, with optimistic concurrency (e_tags) that holds across processes.

Each item is a Redis hash {e_tag, data}: `data` is the item as JSON in botbuilder's own encoding (jsonpickle,
as its Azure storages use), because ConversationState holds objects, not plain dicts: a DialogSet keeps a
`DialogState` of `DialogInstance`s whose state holds `PromptOptions` with `Activity` objects. Plain dicts
stay plain JSON.

Reading never imports anything and never calls a function named in the data: every class the JSON names
must already be loaded and belong to an allowed module (botbuilder, botframework, a few standard types),
so whoever can write to Redis cannot make the bot run code.

e_tags follow botbuilder's MemoryStorage: writing an item whose e_tag is "*" or absent overwrites;
otherwise the e_tag must be the stored one, or the write raises `StorageConflict` and changes nothing.
Every write stores a new e_tag. The check-and-set is WATCH/MULTI/EXEC, so it is atomic across replicas,
and a write of several items is all or nothing.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from botbuilder.core import Storage
from jsonpickle.pickler import Pickler  # type: ignore[import-untyped]
from jsonpickle.unpickler import Unpickler  # type: ignore[import-untyped]
from redis.asyncio import Redis
from redis.exceptions import WatchError

DEFAULT_PREFIX = "riposte:storage:"
DEFAULT_TTL_SECONDS = 30 * 24 * 3600
ANY_E_TAG = "*"
_E_TAG = "e_tag"
_DATA = "data"
# How often a write is retried when a watched key changed but every e_tag still matched (a "*" or untagged
# write racing another): after that it gives up with StorageConflict.
_MAX_ATTEMPTS = 10

DEFAULT_ALLOWED_MODULES: tuple[str, ...] = ("botbuilder.", "botframework.")
DEFAULT_ALLOWED_CLASSES: frozenset[str] = frozenset(
    {
        "datetime.date",
        "datetime.datetime",
        "datetime.time",
        "datetime.timedelta",
        "datetime.timezone",
        "decimal.Decimal",
        "uuid.UUID",
        "builtins.NoneType",
    }
)
# jsonpickle tags that only rebuild data or instances of an (allowed) class. Not py/function, py/mod,
# py/repr (eval), py/iterator, py/property.
_SAFE_TAGS = frozenset(
    {
        "py/object",
        "py/type",
        "py/reduce",
        "py/state",
        "py/newargs",
        "py/newargsex",
        "py/newobj",
        "py/initargs",
        "py/tuple",
        "py/set",
        "py/seq",
        "py/id",
        "py/ref",
        "py/bytes",
        "py/b64",
        "py/b85",
    }
)
_CLASS_TAGS = ("py/object", "py/type")


class StorageConflict(Exception):
    """An item changed since it was read (its e_tag no longer matches): nothing was written."""


class StorageItemRejected(ValueError):
    """An item that cannot be stored, or stored data that names a class or construct outside the allow-list."""


class RedisStorage(Storage):  # type: ignore[misc]  # botbuilder is untyped
    def __init__(
        self,
        redis: Redis,
        prefix: str = DEFAULT_PREFIX,
        ttl_seconds: int | None = DEFAULT_TTL_SECONDS,
        allowed_modules: Iterable[str] = DEFAULT_ALLOWED_MODULES,
        allowed_classes: Iterable[str] = DEFAULT_ALLOWED_CLASSES,
    ) -> None:
        super().__init__()
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive, or None for no expiry")
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._allowed_modules = tuple(allowed_modules)
        self._allowed_classes = frozenset(allowed_classes)

    async def read(self, keys: list[str]) -> dict[str, object]:
        if keys is None:
            raise TypeError("RedisStorage.read(): keys are required")
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(self._redis_key(key), [_E_TAG, _DATA])
            rows: list[list[Any]] = await pipe.execute()
        items: dict[str, object] = {}
        for key, (e_tag, data) in zip(keys, rows, strict=True):
            if e_tag is None or data is None:
                continue
            items[key] = self._decode(key, _text(data), _text(e_tag))
        return items

    async def write(self, changes: dict[str, object]) -> None:
        if changes is None:
            raise TypeError("RedisStorage.write(): changes are required")
        if not changes:
            return
        encoded: dict[str, tuple[str | None, str]] = {}
        for key, item in changes.items():
            expected = _e_tag_of(item)
            if expected == "":
                raise StorageItemRejected(f"RedisStorage.write(): item {key!r} has an empty e_tag")
            encoded[key] = (expected, self._encode(key, item))
        redis_keys = {key: self._redis_key(key) for key in changes}
        new_tags = {key: uuid.uuid4().hex for key in changes}

        async with self._redis.pipeline(transaction=True) as pipe:
            for _attempt in range(_MAX_ATTEMPTS):
                try:
                    await pipe.watch(*redis_keys.values())
                    for key, (expected, _data) in encoded.items():
                        if expected is None or expected == ANY_E_TAG:
                            continue
                        stored = await pipe.hget(redis_keys[key], _E_TAG)
                        if stored is None or _text(stored) != expected:
                            raise StorageConflict(
                                f"{key!r} changed since it was read (e_tag {expected!r} is no longer current)"
                            )
                    pipe.multi()  # type: ignore[no-untyped-call]
                    for key, (_expected, data) in encoded.items():
                        redis_key = redis_keys[key]
                        pipe.delete(redis_key)
                        pipe.hset(redis_key, mapping={_E_TAG: new_tags[key], _DATA: data})
                        if self._ttl is not None:
                            pipe.expire(redis_key, self._ttl)
                    await pipe.execute()
                    break
                except WatchError:
                    continue
            else:
                raise StorageConflict(f"{sorted(changes)!r} kept changing while being written; nothing was written")

        # The caller's copies now carry the stored e_tag, so BotState can save again in the same turn. A "*"
        # stays "*": that item asked to overwrite whatever is there.
        for key, item in changes.items():
            if _e_tag_of(item) != ANY_E_TAG:
                _set_e_tag(item, new_tags[key])

    async def delete(self, keys: list[str]) -> None:
        if keys is None:
            raise TypeError("RedisStorage.delete(): keys are required")
        redis_keys = [self._redis_key(key) for key in keys]
        if redis_keys:
            await self._redis.delete(*redis_keys)

    def _redis_key(self, key: str) -> str:
        if not isinstance(key, str) or not key:
            raise TypeError(f"RedisStorage: keys must be non-empty strings, not {key!r}")
        return self._prefix + key

    def _encode(self, key: str, item: object) -> str:
        try:
            flat = Pickler().flatten(item)
        except Exception as error:
            raise StorageItemRejected(f"item {key!r} cannot be serialised: {error}") from error
        if isinstance(flat, dict):
            flat.pop(_E_TAG, None)  # the e_tag lives next to the data, and a new one is set on every write
        self._classes_in(key, flat)  # refuse now what could not be read back
        return json.dumps(flat, separators=(",", ":"))

    def _decode(self, key: str, data: str, e_tag: str) -> object:
        try:
            flat = json.loads(data)
        except ValueError as error:
            raise StorageItemRejected(f"stored item {key!r} is not JSON") from error
        classes = self._classes_in(key, flat)
        item = Unpickler(keys=False, safe=True).restore(flat, reset=True, classes=classes)
        _set_e_tag(item, e_tag)
        return item

    def _classes_in(self, key: str, flat: object) -> dict[str, type]:
        """Every class the flattened data names, resolved without importing; refuses anything else."""
        classes: dict[str, type] = {}
        for node in _dicts_in(flat):
            for name, value in node.items():
                if not name.startswith("py/"):
                    continue
                if name not in _SAFE_TAGS:
                    raise StorageItemRejected(f"item {key!r}: {name!r} is not allowed in stored data")
                if name in _CLASS_TAGS:
                    if not isinstance(value, str):
                        raise StorageItemRejected(f"item {key!r}: {name} must name a class")
                    classes[value] = self._allowed_class(key, value)
        return classes

    def _allowed_class(self, key: str, name: str) -> type:
        allowed = name in self._allowed_classes or name.startswith(self._allowed_modules)
        found = _loaded_class(name) if allowed else None
        if found is None:
            raise StorageItemRejected(f"item {key!r} names {name!r}, which is not an allowed, loaded class")
        return found


def _dicts_in(value: object) -> Iterator[dict[str, Any]]:
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            yield current
            stack.extend(current.values())
        elif isinstance(current, list | tuple):
            stack.extend(current)


def _loaded_class(name: str) -> type | None:
    """The class `module.QualName` names, looked up in modules already imported: never imports anything."""
    if name == "builtins.NoneType":
        return type(None)
    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module = sys.modules.get(".".join(parts[:split]))
        if module is None:
            continue
        found: object = module
        for attribute in parts[split:]:
            found = getattr(found, attribute, None)
        if isinstance(found, type) and f"{found.__module__}.{found.__qualname__}" == name:
            return found
        return None
    return None


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _e_tag_of(item: object) -> str | None:
    value = item.get(_E_TAG) if isinstance(item, dict) else getattr(item, _E_TAG, None)
    return None if value is None else str(value)


def _set_e_tag(item: object, e_tag: str) -> None:
    if isinstance(item, dict):
        item[_E_TAG] = e_tag
    elif hasattr(item, "__dict__"):
        setattr(item, _E_TAG, e_tag)
