"""`python app.py audit verify | export`: check the audit chain, or copy the trail out for a SIEM.

verify exits 0 when the chain holds and 1 naming the first broken entry (3 when Redis cannot be read); export
writes JSON lines or CSV with the chain fields, so the SIEM's copy can be checked too (`verify --file`).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

from redis.exceptions import RedisError

from bot.audit.chain import Checker, Verdict
from bot.audit.trail import RedisAudit, load_audit_key
from bot.config import Settings
from bot.state.store import connect_redis

# CSV columns: the chain, then every field an AuditEntry can carry; anything else (event fields) goes, as JSON,
# into "extra", and "empty" names the fields stored empty (an empty cell is otherwise a field the entry lacks), so
# each row's hash can be recomputed from the CSV alone.
CSV_COLUMNS = ("id", "seq", "prev", "hash", "at", "phase", "action", "actor_id", "actor_name", "actor_upn",
               "actor_roles", "tenant", "case_id", "target_id", "target_upn", "result", "detail", "request_id",
               "decision", "correlation_id", "state_before", "state_after", "undo_of")
EXTRA_COLUMN = "extra"
EMPTY_COLUMN = "empty"


def _iso_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 time (e.g. 2026-11-21T10:15:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python app.py audit", description="Riposte's audit trail.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{verify,export}")
    verify = commands.add_parser("verify", help="check the hash chain; exit 0 when it holds")
    verify.add_argument("--file", help="check an export (JSON lines) instead of Redis: its links and checkpoints")
    export = commands.add_parser("export", help="write entries to standard output")
    export.add_argument("--since", type=_iso_time, help="first time included (ISO 8601; UTC when no offset)")
    export.add_argument("--until", type=_iso_time, help="last time included (ISO 8601; UTC when no offset)")
    export.add_argument("--format", choices=("jsonl", "csv"), required=True)
    return parser


def main(argv: list[str], settings: Settings | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:  # argparse has printed what is wrong
        return int(exit_.code or 0)
    settings = settings or Settings()
    if args.command == "verify" and args.file:
        return _report(_verify_file(args.file, settings))
    if not settings.redis_url:
        print("REDIS_URL is not set: the audit trail lives in Redis (the local stand-in is in the bot's own process "
              "and gone with it). Set REDIS_URL to the bot's Redis.", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(args, settings))
    except RedisError as error:
        print(f"Could not read the audit trail from Redis: {error}", file=sys.stderr)
        return 3


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    redis = connect_redis(settings.redis_url)
    try:
        audit = RedisAudit(redis, settings)
        if args.command == "verify":
            return _report(await audit.verify())
        start = f"{int(args.since.timestamp() * 1000)}-0" if args.since else "-"
        end = str(int(args.until.timestamp() * 1000)) if args.until else "+"  # an ms-only end includes that ms
        writer = csv.writer(sys.stdout) if args.format == "csv" else None
        if writer is not None:
            writer.writerow((*CSV_COLUMNS, EXTRA_COLUMN, EMPTY_COLUMN))
        async for entry_id, fields in audit.scan(start, end):
            if writer is None:
                sys.stdout.write(json.dumps({"id": entry_id, **fields}, ensure_ascii=False, sort_keys=True) + "\n")
            else:
                writer.writerow(csv_row(entry_id, fields))
        return 0
    finally:
        await redis.aclose()


def csv_row(entry_id: str, fields: dict[str, str]) -> list[str]:
    known = {"id": entry_id, **fields}
    extra = {name: value for name, value in fields.items() if name not in CSV_COLUMNS}
    empty = ",".join(sorted(name for name, value in fields.items() if name in CSV_COLUMNS and not value))
    return [known.get(column, "") for column in CSV_COLUMNS] + [json.dumps(extra, sort_keys=True) if extra else "",
                                                                empty]


def csv_fields(row: dict[str, str]) -> dict[str, str]:
    """An entry's stored fields back from a CSV row (what its hash covers)."""
    fields = {name: value for name, value in row.items() if name in CSV_COLUMNS and name != "id" and value}
    fields.update({name: "" for name in row.get(EMPTY_COLUMN, "").split(",") if name})
    fields.update(json.loads(row[EXTRA_COLUMN]) if row.get(EXTRA_COLUMN) else {})
    return fields


def _read_jsonl(path: str) -> Iterator[tuple[str, dict[str, str]]]:
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                fields = {str(name): str(value) for name, value in json.loads(line).items()}
                yield fields.pop("id", ""), fields


def _verify_file(path: str, settings: Settings) -> Verdict:
    """An export's own links and in-trail checkpoints (signed with RIPOSTE_AUDIT_KEY); its first entry is taken
    as given unless it is seq 1."""
    key = settings.audit_key.get_secret_value().encode()
    if not key and settings.redis_url:  # the generated key the bot keeps in Redis
        key = asyncio.run(_stored_key(settings))
    entries = _read_jsonl(path)
    first = next(entries, None)
    checker = Checker(key, from_start=first is not None and first[1].get("seq") == "1")
    if first is not None and checker.add(*first):
        for entry_id, fields in entries:
            if not checker.add(entry_id, fields):
                break
    return checker.finish()


async def _stored_key(settings: Settings) -> bytes:
    redis = connect_redis(settings.redis_url)
    try:
        return await load_audit_key(redis, settings)
    finally:
        await redis.aclose()


def _report(verdict: Verdict) -> int:
    print(verdict.describe(), file=sys.stdout if verdict.ok else sys.stderr)
    return 0 if verdict.ok else 1
