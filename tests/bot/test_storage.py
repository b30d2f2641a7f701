"""RedisStorage against a real redis-server: e_tags, atomic check-and-set across connections, restarts, and
botbuilder's own ConversationState + DialogSet on top of it."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import fakeredis
import pytest
from botbuilder.core import ConversationState, MessageFactory, StoreItem, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.dialogs import (
    DialogSet,
    DialogState,
    DialogTurnResult,
    DialogTurnStatus,
    WaterfallDialog,
    WaterfallStepContext,
)
from botbuilder.dialogs.prompts import PromptOptions, TextPrompt
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount
from redis.asyncio import Redis

from bot.teams.storage import RedisStorage, StorageConflict, StorageItemRejected

PREFIX = "riposte:storage:"

Connect = Callable[[], Redis]


@pytest.fixture
async def connect(clean_redis: str) -> AsyncIterator[Connect]:
    """New connections to the freshly flushed test database: each one stands for another process."""
    clients: list[Redis] = []

    def new_client() -> Redis:
        clients.append(Redis.from_url(clean_redis, decode_responses=True))
        return clients[-1]

    yield new_client
    for client in clients:
        await client.aclose()


@pytest.fixture
def storage(connect: Connect) -> RedisStorage:
    return RedisStorage(connect())


async def test_write_read_delete(storage: RedisStorage) -> None:
    assert await storage.read(["missing"]) == {}
    assert await storage.read([]) == {}
    await storage.write({"case": {"user": "alice@contoso.com", "steps": ["revoke"], "count": 2, "ok": True}})
    await storage.write({"item": StoreItem(name="pending", attempts=3)})

    items = await storage.read(["case", "item", "missing"])
    assert set(items) == {"case", "item"}
    case = items["case"]
    assert isinstance(case, dict)
    assert {key: value for key, value in case.items() if key != "e_tag"} == {
        "user": "alice@contoso.com",
        "steps": ["revoke"],
        "count": 2,
        "ok": True,
    }
    assert isinstance(case["e_tag"], str) and case["e_tag"]
    item = items["item"]
    assert isinstance(item, StoreItem)
    assert (item.name, item.attempts) == ("pending", 3)  # type: ignore[attr-defined]
    assert item.e_tag  # type: ignore[attr-defined]

    await storage.delete(["case", "never-written"])
    assert set(await storage.read(["case", "item"])) == {"item"}


async def test_every_write_gets_a_new_e_tag(storage: RedisStorage) -> None:
    seen = set()
    for count in range(5):
        await storage.write({"k": {"count": count, "e_tag": "*"}})
        stored = (await storage.read(["k"]))["k"]
        assert isinstance(stored, dict)
        assert stored["count"] == count
        seen.add(stored["e_tag"])
    assert len(seen) == 5


async def test_a_stale_e_tag_is_a_conflict_and_the_first_write_survives(storage: RedisStorage) -> None:
    await storage.write({"k": {"owner": "nobody"}})
    first = (await storage.read(["k"]))["k"]
    second = (await storage.read(["k"]))["k"]
    assert isinstance(first, dict) and isinstance(second, dict)
    assert first["e_tag"] == second["e_tag"]

    first["owner"] = "first"
    await storage.write({"k": first})
    second["owner"] = "second"
    with pytest.raises(StorageConflict):
        await storage.write({"k": second})

    stored = (await storage.read(["k"]))["k"]
    assert isinstance(stored, dict)
    assert stored["owner"] == "first"


async def test_star_and_no_e_tag_overwrite(storage: RedisStorage) -> None:
    await storage.write({"k": {"v": 1}})
    await storage.write({"k": {"v": 2}})  # no e_tag: last writer wins, as in botbuilder's MemoryStorage
    await storage.write({"k": {"v": 3, "e_tag": "*"}})
    item = StoreItem(v=4, e_tag="*")
    await storage.write({"k": item})
    assert item.e_tag == "*"  # a "*" item keeps asking to overwrite
    stored = (await storage.read(["k"]))["k"]
    assert isinstance(stored, StoreItem)
    assert stored.v == 4  # type: ignore[attr-defined]
    assert stored.e_tag not in ("*", None)  # type: ignore[attr-defined]


async def test_an_e_tag_for_an_item_deleted_since_it_was_read_is_a_conflict(storage: RedisStorage) -> None:
    await storage.write({"k": {"v": 1}})
    read = (await storage.read(["k"]))["k"]
    await storage.delete(["k"])
    with pytest.raises(StorageConflict):
        await storage.write({"k": read})
    assert await storage.read(["k"]) == {}


async def test_an_empty_e_tag_is_refused(storage: RedisStorage) -> None:
    with pytest.raises(StorageItemRejected):
        await storage.write({"k": {"v": 1, "e_tag": ""}})


async def test_the_writers_copy_gets_the_new_e_tag_so_it_can_save_again(storage: RedisStorage) -> None:
    state: dict[str, Any] = {"v": 1}
    await storage.write({"k": state})
    state["v"] = 2
    await storage.write({"k": state})  # same turn, second save: not a conflict with itself
    stored = (await storage.read(["k"]))["k"]
    assert isinstance(stored, dict)
    assert stored == state


async def test_a_write_of_several_items_is_all_or_nothing(storage: RedisStorage) -> None:
    await storage.write({"a": {"v": "a1"}, "b": {"v": "b1"}})
    read = await storage.read(["a", "b"])
    stale_b = dict(read["b"])  # type: ignore[call-overload]
    await storage.write({"b": {"v": "b2", "e_tag": "*"}})
    with pytest.raises(StorageConflict):
        await storage.write({"a": {**read["a"], "v": "a2"}, "b": {**stale_b, "v": "b3"}})  # type: ignore[dict-item]
    after = await storage.read(["a", "b"])
    assert [after["a"]["v"], after["b"]["v"]] == ["a1", "b2"]  # type: ignore[index]


async def test_concurrent_writers_on_separate_connections_exactly_one_wins(connect: Connect) -> None:
    setup = RedisStorage(connect())
    await setup.write({"case": {"owner": None}})
    writers = [RedisStorage(connect()) for _ in range(12)]
    versions = [(await writer.read(["case"]))["case"] for writer in writers]
    assert len({version["e_tag"] for version in versions}) == 1  # type: ignore[index]

    async def claim(index: int) -> str:
        change = dict(versions[index])  # type: ignore[call-overload]
        change["owner"] = f"writer-{index}"
        await writers[index].write({"case": change})
        return str(change["owner"])

    results = await asyncio.gather(*(claim(index) for index in range(len(writers))), return_exceptions=True)
    winners = [result for result in results if isinstance(result, str)]
    assert len(winners) == 1
    assert all(isinstance(result, StorageConflict) for result in results if not isinstance(result, str))
    stored = (await setup.read(["case"]))["case"]
    assert stored["owner"] == winners[0]  # type: ignore[index]


async def test_concurrent_overwrites_all_land(connect: Connect) -> None:
    """Racing "*" writes retry when a watched key changes under them: none fails, one of them is stored."""
    writers = [RedisStorage(connect()) for _ in range(8)]
    await asyncio.gather(*(w.write({"k": {"v": index, "e_tag": "*"}}) for index, w in enumerate(writers)))
    stored = (await writers[0].read(["k"]))["k"]
    assert stored["v"] in range(8)  # type: ignore[index]


async def test_state_survives_an_app_restart(connect: Connect) -> None:
    before = RedisStorage(connect())
    await before.write({"conversation/1": {"pending": {"action": "revoke_sessions", "user": "alice@contoso.com"}}})
    written = (await before.read(["conversation/1"]))["conversation/1"]

    after = RedisStorage(connect())  # a new process: new connection, new instance
    read = (await after.read(["conversation/1"]))["conversation/1"]
    assert read == written
    read["pending"]["user"] = "bob@contoso.com"  # type: ignore[index]
    await after.write({"conversation/1": read})  # the e_tag read after the restart is current
    with pytest.raises(StorageConflict):
        await before.write({"conversation/1": written})


async def test_keys_are_prefixed_and_expire(connect: Connect) -> None:
    client = connect()
    await RedisStorage(client).write({"k": {"v": 1}})
    assert 0 < await client.ttl(PREFIX + "k") <= 30 * 24 * 3600
    await RedisStorage(client, prefix="other:", ttl_seconds=None).write({"k": {"v": 2}})
    assert await client.ttl("other:k") == -1
    assert sorted(await client.keys("*")) == ["other:k", PREFIX + "k"]
    with pytest.raises(ValueError, match="ttl_seconds"):
        RedisStorage(client, ttl_seconds=0)


async def test_works_with_a_bytes_client(clean_redis: str) -> None:
    client = Redis.from_url(clean_redis)  # decode_responses=False
    try:
        storage = RedisStorage(client)
        await storage.write({"k": {"v": "é"}})
        read = (await storage.read(["k"]))["k"]
        assert read["v"] == "é"  # type: ignore[index]
        await storage.write({"k": read})
    finally:
        await client.aclose()


async def test_the_in_process_stand_in_detects_conflicts_too() -> None:
    """Without REDIS_URL the app runs on fakeredis (bot/state/store.py): WATCH/MULTI/EXEC work there as well."""
    server = fakeredis.FakeServer()
    one = RedisStorage(fakeredis.FakeAsyncRedis(server=server, decode_responses=True))
    two = RedisStorage(fakeredis.FakeAsyncRedis(server=server, decode_responses=True))
    await one.write({"k": {"v": 1}})
    first, second = (await one.read(["k"]))["k"], (await two.read(["k"]))["k"]
    await one.write({"k": first})
    with pytest.raises(StorageConflict):
        await two.write({"k": second})


# Whoever can write to Redis must not be able to make the bot import modules or call functions.
TAMPERED = [
    {"py/object": "subprocess.Popen"},
    {"x": {"py/reduce": [{"py/function": "os.system"}, {"py/tuple": ["true"]}]}},
    {"x": {"py/reduce": [{"py/type": "os.system"}, {"py/tuple": ["true"]}]}},
    {"x": {"py/repr": "os/os.system('true')"}},
    {"x": {"py/mod": "antigravity"}},
    {"x": {"py/type": "botbuilder.core.bot_state.deepcopy"}},  # a function re-exported by an allowed module
    {"x": {"py/object": "botbuilder.not_a_module.Thing"}},
    {"x": {"py/object": 42}},
]


@pytest.mark.parametrize("payload", TAMPERED)
async def test_tampered_data_is_refused_without_importing_or_calling_anything(
    connect: Connect, payload: dict[str, Any]
) -> None:
    client = connect()
    await client.hset(PREFIX + "k", mapping={"e_tag": "1", "data": json.dumps(payload)})
    modules_before = set(sys.modules)
    with pytest.raises(StorageItemRejected):
        await RedisStorage(client).read(["k"])
    assert set(sys.modules) == modules_before


async def test_what_could_not_be_read_back_is_refused_at_write(storage: RedisStorage) -> None:
    with pytest.raises(StorageItemRejected):
        await storage.write({"k": {"callback": len}})
    assert await storage.read(["k"]) == {}


# The real use: botbuilder's ConversationState and a DialogSet, one process per turn.

NAME_PROMPT = "Which user?"
REASON_PROMPT = "Why?"


def dialog_bot(make_storage: Callable[[], RedisStorage]) -> Callable[[TurnContext], Awaitable[None]]:
    """A two-prompt waterfall whose state is loaded from, and saved to, a NEW RedisStorage every turn."""

    async def ask_name(step: WaterfallStepContext) -> DialogTurnResult:
        return await step.prompt("text", PromptOptions(prompt=MessageFactory.text(NAME_PROMPT)))

    async def ask_reason(step: WaterfallStepContext) -> DialogTurnResult:
        step.values["user"] = step.result
        return await step.prompt("text", PromptOptions(prompt=MessageFactory.text(REASON_PROMPT)))

    async def finish(step: WaterfallStepContext) -> DialogTurnResult:
        await step.context.send_activity(f"revoke {step.values['user']} because {step.result}")
        return await step.end_dialog()

    async def logic(turn_context: TurnContext) -> None:
        state = ConversationState(make_storage())
        dialogs = DialogSet(state.create_property("DialogState"))
        dialogs.add(TextPrompt("text"))
        dialogs.add(WaterfallDialog("ask", [ask_name, ask_reason, finish]))
        dialog_context = await dialogs.create_context(turn_context)
        result = await dialog_context.continue_dialog()
        if result.status == DialogTurnStatus.Empty:
            await dialog_context.begin_dialog("ask")
        await state.save_changes(turn_context)

    return logic


async def test_a_dialog_continues_across_turns_and_restarts(connect: Connect) -> None:
    adapter = TestAdapter(dialog_bot(lambda: RedisStorage(connect())))
    flow = await adapter.test("hi", NAME_PROMPT)
    flow = await flow.test("alice@contoso.com", REASON_PROMPT)

    # Between the turns the dialog stack lives in Redis, as botbuilder objects.
    inspector = RedisStorage(connect())
    keys = [str(key).removeprefix(PREFIX) for key in await connect().keys(PREFIX + "*")]
    assert len(keys) == 1
    saved = (await inspector.read(keys))[keys[0]]
    assert isinstance(saved, dict)
    dialog_state = saved["DialogState"]
    assert isinstance(dialog_state, DialogState)
    assert [instance.id for instance in dialog_state.dialog_stack] == ["text", "ask"]
    assert dialog_state.dialog_stack[1].state["values"] == {"user": "alice@contoso.com"}

    await flow.test("phished", "revoke alice@contoso.com because phished")
    saved = (await inspector.read(keys))[keys[0]]
    assert saved["DialogState"].dialog_stack == []  # type: ignore[index]


def turn(adapter: TestAdapter, text: str) -> TurnContext:
    activity = Activity(
        type=ActivityTypes.message,
        text=text,
        channel_id="test",
        conversation=ConversationAccount(id="conversation-1"),
        from_property=ChannelAccount(id="responder"),
        recipient=ChannelAccount(id="bot"),
    )
    return TurnContext(adapter, activity)


async def test_two_replicas_saving_the_same_conversation_conflict(connect: Connect) -> None:
    adapter = TestAdapter()
    first_state, second_state = ConversationState(RedisStorage(connect())), ConversationState(RedisStorage(connect()))
    first_turn, second_turn = turn(adapter, "a"), turn(adapter, "b")
    seed = ConversationState(RedisStorage(connect()))
    seed_turn = turn(adapter, "seed")
    await seed.create_property("claimed_by").set(seed_turn, "nobody")
    await seed.save_changes(seed_turn)

    first_claim, second_claim = first_state.create_property("claimed_by"), second_state.create_property("claimed_by")
    assert await first_claim.get(first_turn) == "nobody"
    assert await second_claim.get(second_turn) == "nobody"
    await first_claim.set(first_turn, "first")
    await second_claim.set(second_turn, "second")
    await first_state.save_changes(first_turn)
    with pytest.raises(StorageConflict):
        await second_state.save_changes(second_turn)

    check = ConversationState(RedisStorage(connect()))
    check_turn = turn(adapter, "check")
    assert await check.create_property("claimed_by").get(check_turn) == "first"
