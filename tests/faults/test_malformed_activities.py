"""Bad input on /api/messages is answered 400/401 (a JSON body naming the problem, one log line), never 500 with a
traceback; unknown invokes get botbuilder's 501. Over real HTTP against the running bot."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import jwt
import pytest
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor, _OpenIdMetadata
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from pydantic import SecretStr

from sandbox.channel import personal_conversation_id
from tests.conftest import BotFactory, RunningBot
from tests.e2e.helpers import RESPONDER, channel

APP_ID = "3c5a0b5e-0000-4000-8000-00000000b07"
NOT_AN_ACTIVITY = "body must be a JSON object (a Bot Framework activity)"


def activity(bot: RunningBot, **fields: Any) -> dict[str, Any]:
    """A well-formed message from Rita, with `fields` replaced (None: removed)."""
    person = channel(bot).person(RESPONDER)
    assert person is not None
    base: dict[str, Any] = {
        "type": "message", "id": "1700000000001", "channelId": "msteams", "serviceUrl": channel(bot).service_url,
        "from": person.account(), "recipient": {"id": "28:riposte", "name": "Riposte"},
        "conversation": {"id": personal_conversation_id(person.oid), "conversationType": "personal"}, "text": "help",
        "channelData": {"tenant": {"id": person.tenant_id}},
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}


def encoded(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


async def post(bot: RunningBot, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    async with aiohttp.ClientSession() as session, session.post(
        f"{bot.url}/api/messages", data=body, headers=all_headers
    ) as response:
        text = await response.text()
        return response.status, json.loads(text) if response.content_type == "application/json" else text


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with_traceback = [record.getMessage() for record in caplog.records if record.exc_info or record.exc_text]
    assert not with_traceback, with_traceback
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


MALFORMED: list[tuple[str, Any, str]] = [
    # (case, the body: bytes, or a function of the bot giving the activity, expected words in the error)
    ("empty body", b"", NOT_AN_ACTIVITY),
    ("not JSON", b"{type: message", "body is not JSON"),
    ("a JSON list", b'[{"type": "message"}]', f"{NOT_AN_ACTIVITY}, not a JSON list"),
    ("a JSON string", b'"message"', f"{NOT_AN_ACTIVITY}, not a JSON string"),
    ("not UTF-8", b'{"type": "message", "text": "\xff\xfe caf\xe9"}', "body is not UTF-8"),
    ("10,000 nested lists", b"[" * 10_000 + b"]" * 10_000, "nested too deeply"),
    ("no type", lambda bot: activity(bot, type=None), "activity `type` must be a non-empty string"),
    ("type not a string", lambda bot: activity(bot, type=["message"]), "activity `type` must be a non-empty string"),
    ("from as a string", lambda bot: activity(bot, **{"from": "rita"}), "activity `from` must be an object"),
    ("no from", lambda bot: activity(bot, **{"from": None}), "activity has no `from`"),
    ("conversation as a string", lambda bot: activity(bot, conversation="19:x"),
     "activity `conversation` must be an object"),
    ("conversation without id", lambda bot: activity(bot, conversation={}),
     "`conversation.id` must be a non-empty string"),
    ("text as an object", lambda bot: activity(bot, text={"a": 1}), "activity `text` must be a string"),
    ("entities not a list", lambda bot: activity(bot, entities={"type": "mention"}),
     "activity `entities` must be a list of objects"),
    ("channelData as a string", lambda bot: activity(bot, channelData="x"), "`channelData` must be an object"),
    ("no serviceUrl", lambda bot: activity(bot, serviceUrl=None), "`serviceUrl` must be a non-empty string"),
    ("timestamp not a date", lambda bot: activity(bot, timestamp="yesterday"), "not a Bot Framework activity"),
    ("10,000 nested lists in value", lambda bot: nested_value(bot, 10_000), "nested too deeply"),
]


def nested_value(bot: RunningBot, depth: int) -> bytes:
    """A well-formed message whose `value` nests `depth` lists."""
    return encoded(activity(bot))[:-1] + b', "value": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(("case", "body", "expected"), MALFORMED, ids=[case for case, _, _ in MALFORMED])
async def test_malformed_body_is_answered_400_naming_the_problem(
    bot: RunningBot, caplog: pytest.LogCaptureFixture, case: str, body: Any, expected: str
) -> None:
    raw = body if isinstance(body, bytes) else body(bot)
    raw = raw if isinstance(raw, bytes) else encoded(raw)
    caplog.clear()
    status, answer = await post(bot, raw)
    assert status == 400, (case, answer)
    assert expected in answer["error"], answer
    assert_no_traceback(caplog)
    refusals = [r for r in caplog.records if r.getMessage().startswith("refused an activity")]
    assert len(refusals) == 1, caplog.text


@pytest.mark.parametrize("nesting", [0, 900])
async def test_well_formed_message_still_works(
    bot: RunningBot, caplog: pytest.LogCaptureFixture, nesting: int
) -> None:
    """The control for the cases above: the same activity, unaltered (or with a deep but parseable value), is
    accepted and its turn runs."""
    status, _ = await post(bot, nested_value(bot, nesting) if nesting else encoded(activity(bot)))
    assert status in (200, 201)
    assert_no_traceback(caplog)


@pytest.mark.parametrize("name", ["task/fetch", "composeExtension/query", "fileConsent/invoke", "config/fetch",
                                  "healthCheck"])
async def test_unknown_invoke_is_answered_501_without_a_traceback(
    bot: RunningBot, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    # A value botbuilder's Teams dispatch would fail to deserialize: Riposte answers before that dispatch.
    status, answer = await post(bot, encoded(activity(bot, type="invoke", name=name, text=None, value="junk")))
    assert (status, answer) == (501, None)  # botbuilder's answer to an invoke a bot does not implement
    assert_no_traceback(caplog)


@pytest.mark.parametrize(("name", "junk", "fine", "status"), [
    ("signin/verifyState", ["junk", 7], {"state": "123456"}, 404),  # 404: no sign-in card pending for this person
    ("signin/tokenExchange", ["junk", {}, {"id": "x"}],
     {"id": "x", "connectionName": "riposte-graph", "token": "not-a-teams-token"}, 412),
])
async def test_a_malformed_sign_in_invoke_is_answered_400_without_a_traceback(
    bot: RunningBot, caplog: pytest.LogCaptureFixture, name: str, junk: list[Any], fine: dict[str, str], status: int
) -> None:
    # Riposte answers these for a typed command's sign-in card (bot/dialogs/sign_in.py); botbuilder would crash on
    # a value that is not an object, or a token exchange without its id and token.
    for value in junk:
        answered, _ = await post(bot, encoded(activity(bot, type="invoke", name=name, text=None, value=value)))
        assert answered == 400, value
    answered, _ = await post(bot, encoded(activity(bot, type="invoke", name=name, text=None, value=fine)))
    assert answered == status
    assert_no_traceback(caplog)


async def test_card_action_with_a_malformed_value_is_refused_on_a_card(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    invoke = activity(bot, type="invoke", name="adaptiveCard/action", text=None, value={"action": "revoke"})
    status, answer = await post(bot, encoded(invoke))
    assert status == 200 and answer["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Nothing ran" in json.dumps(answer["value"])
    assert_no_traceback(caplog)


# -- tokens (an app id is set, so botbuilder validates every activity's JWT) -----------------------------------


@pytest.fixture
def bot_framework_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[rsa.RSAPrivateKey]:
    """Bot Framework's signing keys, as botbuilder fetches them (with requests, from login.botframework.com), served
    from here: the test needs no network, and botbuilder's own signature check runs for real."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": "riposte-test", "endorsements": ["msteams"]}

    async def refresh(self: _OpenIdMetadata) -> None:
        self.keys = [jwk]
        self.last_updated = __import__("datetime").datetime.now()

    monkeypatch.setattr(JwtTokenExtractor, "metadataCache", {})
    monkeypatch.setattr(_OpenIdMetadata, "_refresh", refresh)
    yield key


def channel_token(key: rsa.RSAPrivateKey, service_url: str, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": "https://api.botframework.com", "aud": APP_ID, "serviceurl": service_url,
               "nbf": now - 60, "exp": now + 3600, **claims}
    payload = {key: value for key, value in payload.items() if value is not None}
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "riposte-test"})


async def test_forged_or_garbage_tokens_are_answered_401(
    make_bot: BotFactory, caplog: pytest.LogCaptureFixture, bot_framework_keys: rsa.RSAPrivateKey
) -> None:
    bot = await make_bot(microsoft_app_id=APP_ID, microsoft_app_password=SecretStr("x"))
    # An invoke Riposte does not implement: accepted, it is answered 501 without any outbound call.
    body = encoded(activity(bot, type="invoke", name="config/fetch", text=None, value={}))
    service_url = channel(bot).service_url or ""
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = {
        "no Authorization header": None,
        "garbage": "Bearer garbage",
        "not Bearer": "Basic cml0YTpyaXRh",
        "no iss": "Bearer " + channel_token(bot_framework_keys, service_url, iss=None),
        "unsigned (alg none)": "Bearer " + jwt.encode({"iss": "https://api.botframework.com", "aud": APP_ID},
                                                      "", algorithm="none"),
        "wrong signature": "Bearer " + channel_token(other_key, service_url),
        "another bot's audience": "Bearer " + channel_token(bot_framework_keys, service_url, aud="someone-else"),
        "expired": "Bearer " + channel_token(bot_framework_keys, service_url, exp=int(time.time()) - 3600),
    }
    for case, header in bad.items():
        caplog.clear()
        status, answer = await post(bot, body, {"Authorization": header} if header else {})
        assert (status, answer) == (401, {"error": "invalid or missing Bot Framework token"}), case
        assert_no_traceback(caplog)
        assert len([r for r in caplog.records if r.getMessage().startswith("refused an activity")]) == 1, case

    # The control: a token signed with Bot Framework's (here: the test's) key passes botbuilder's validation.
    status, _ = await post(bot, body, {"Authorization": "Bearer " + channel_token(bot_framework_keys, service_url)})
    assert status == 501


async def test_malformed_body_is_answered_400_before_authentication(
    make_bot: BotFactory, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await make_bot(microsoft_app_id=APP_ID, microsoft_app_password=SecretStr("x"))
    status, answer = await post(bot, b"[]")
    assert status == 400 and NOT_AN_ACTIVITY in answer["error"]
    assert_no_traceback(caplog)
