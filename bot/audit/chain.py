"""The audit's hash chain, pure: how an entry is hashed, how a checkpoint is signed, and how a trail is checked.

Each entry carries `seq` (1, 2, 3, …), `prev` (the hash of the entry before it; GENESIS for the first) and `hash`:
SHA-256 over the sorted-key compact JSON of every other field, `seq` and `prev` included. Editing an entry breaks
its hash, deleting or inserting one breaks the next entry's `seq`/`prev`; a signed checkpoint (HMAC-SHA256 with a
key kept outside Redis) of the chain head makes cutting the tail detectable up to that checkpoint, and a signed
anchor marks where retention trimmed the start.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

GENESIS = "0" * 64
CHAIN_FIELDS = ("seq", "prev", "hash")
CHECKPOINT_PHASE = "checkpoint"
# Recent hashes kept while walking, to check in-stream checkpoints against the entries they cover (a checkpoint
# follows what it covers closely; only other writers' entries can come in between).
RECENT_HASHES = 4096


def canonical(fields: Mapping[str, str]) -> bytes:
    """The bytes an entry's hash covers: every field but `hash`, as sorted-key compact JSON."""
    content = {key: str(value) for key, value in fields.items() if key != "hash"}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(fields: Mapping[str, str]) -> str:
    return hashlib.sha256(canonical(fields)).hexdigest()


def key_id(key: bytes) -> str:
    """Names a key without revealing it: which key signed a checkpoint, to tell a wrong key from a forgery."""
    return hmac.new(key, b"riposte-audit-key-id", hashlib.sha256).hexdigest()[:12]


def signature(key: bytes, kind: str, seq: int, digest: str, at: str) -> str:
    """HMAC of a checkpoint (kind "head": the chain up to seq has this hash) or an anchor (kind "anchor": the
    trail now starts at seq, whose prev is this hash)."""
    message = "\n".join(("riposte-audit", kind, str(seq), digest, at)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signed(key: bytes, kind: str, seq: int, digest: str, at: str) -> dict[str, str]:
    field = "hash" if kind == "head" else "prev"
    return {"seq": str(seq), field: digest, "at": at, "sig": signature(key, kind, seq, digest, at),
            "key_id": key_id(key)}


def signature_problem(key: bytes, kind: str, record: Mapping[str, str]) -> str:
    """Why a stored checkpoint or anchor is not one this key signed, or ''."""
    digest = record.get("hash" if kind == "head" else "prev", "")
    try:
        seq = int(record.get("seq", ""))
    except ValueError:
        return f"its seq {record.get('seq', '')!r} is not a number"
    expected = signature(key, kind, seq, digest, record.get("at", ""))
    if hmac.compare_digest(expected, record.get("sig", "")):
        return ""
    if record.get("key_id") and record.get("key_id") != key_id(key):
        return (f"it was signed with another key (key id {record.get('key_id')}, this one is {key_id(key)}): "
                "check RIPOSTE_AUDIT_KEY")
    return "its signature does not match (forged or altered)"


@dataclass
class Verdict:
    ok: bool = True
    checked: int = 0
    first_seq: int = 0
    last_seq: int = 0
    checkpoints: int = 0  # checkpoint entries checked inside the trail
    unchained: int = 0  # entries written before the chain existed (older Riposte); not covered
    covered_seq: int = 0  # the signed head checkpoint's seq (0: none)
    partial: bool = False  # the walk started mid-trail: its first entry is taken as given
    entry_id: str = ""
    seq: int | None = None
    problem: str = ""

    def describe(self) -> str:
        if not self.ok:
            where = f"entry {self.entry_id}" if self.entry_id else "the trail"
            at_seq = f" (seq {self.seq})" if self.seq is not None else ""
            return f"Audit chain BROKEN at {where}{at_seq}: {self.problem}"
        if not self.checked:
            return "Audit chain holds: the trail is empty."
        scope = "the newest " if self.partial else ""
        text = (f"Audit chain holds: {scope}{self.checked:,} entries checked (seq {self.first_seq}–{self.last_seq}), "
                f"{self.checkpoints} signed checkpoint(s) in them.")
        if self.covered_seq:
            uncovered = max(0, self.last_seq - self.covered_seq)
            text += f" The last signed checkpoint covers seq {self.covered_seq}; {uncovered} entries after it."
        else:
            text += " No signed checkpoint yet."
        if self.unchained:
            text += f" {self.unchained} older entries predate the chain and are not covered."
        return text


class _Broken(Exception):
    def __init__(self, entry_id: str, seq: int | None, problem: str) -> None:
        super().__init__(problem)
        self.entry_id, self.seq, self.problem = entry_id, seq, problem


def verify(entries: Iterable[tuple[str, Mapping[str, str]]], key: bytes, *,
           anchor: Mapping[str, str] | None = None, checkpoint: Mapping[str, str] | None = None,
           head: Mapping[str, str] | None = None, from_start: bool = True) -> Verdict:
    """Walk a trail oldest first and say whether it holds, naming the first broken entry (see Checker)."""
    checker = Checker(key, anchor=anchor, checkpoint=checkpoint, head=head, from_start=from_start)
    for entry_id, fields in entries:
        if not checker.add(entry_id, fields):
            break
    return checker.finish()


class Checker:
    """Checks a trail entry by entry, oldest first, so a long one never has to be held in memory.

    `from_start` False: the entries are a window (the newest N, an export from --since), so the first one's link
    to what came before is not checked (the tail still is, against whichever of checkpoint and head are given).
    `anchor`, `checkpoint`, `head`: the signed retention anchor, the signed checkpoint of the chain head, and the
    head as the appender left it (each None when absent)."""

    def __init__(self, key: bytes, *, anchor: Mapping[str, str] | None = None,
                 checkpoint: Mapping[str, str] | None = None, head: Mapping[str, str] | None = None,
                 from_start: bool = True) -> None:
        self._key, self._anchor, self._checkpoint, self._head = key, anchor, checkpoint, head
        self._from_start = from_start
        seq = (checkpoint or {}).get("seq", "")
        self._watched = int(seq) if seq.isdigit() else 0
        self._recent: dict[int, str] = {}
        self._expected: int | None = None
        self._prev = ""
        self.verdict = Verdict(partial=not from_start)

    def add(self, entry_id: str, fields: Mapping[str, str]) -> bool:
        """False once the trail is broken (the verdict says where)."""
        if not self.verdict.ok:
            return False
        try:
            self._add(entry_id, fields)
        except _Broken as broken:
            self._fail(broken)
        return self.verdict.ok

    def finish(self) -> Verdict:
        if self.verdict.ok:
            try:
                _check_tail(self._key, self._checkpoint, self._head, self.verdict, self._recent)
            except _Broken as broken:
                self._fail(broken)
        return self.verdict

    def _fail(self, broken: _Broken) -> None:
        verdict = self.verdict
        verdict.ok, verdict.entry_id, verdict.seq, verdict.problem = False, broken.entry_id, broken.seq, broken.problem

    def _add(self, entry_id: str, fields: Mapping[str, str]) -> None:
        verdict = self.verdict
        if "seq" not in fields:
            if self._expected is None:  # written before the chain existed
                verdict.unchained += 1
                return
            raise _Broken(entry_id, None, f"it has no chain fields but follows seq {self._expected - 1} (inserted)")
        try:
            seq = int(fields["seq"])
        except ValueError:
            raise _Broken(entry_id, None, f"its seq {fields['seq']!r} is not a number") from None
        expected = self._expected
        if expected is None:
            if self._from_start:
                _check_start(entry_id, seq, fields, self._key, self._anchor)
            verdict.first_seq = seq
        elif seq != expected:
            what = (f"entries {expected}–{seq - 1} are missing (deleted)" if seq > expected
                    else f"seq {seq} again after seq {expected - 1} (an entry was inserted or replayed)")
            raise _Broken(entry_id, seq, what)
        elif fields.get("prev") != self._prev:
            raise _Broken(entry_id, seq, f"its prev hash is not the hash of seq {seq - 1} (the entry before it was "
                                         "replaced, or this one was inserted)")
        digest = entry_hash(fields)
        if digest != fields.get("hash"):
            raise _Broken(entry_id, seq, "its hash does not match its content (edited)")
        if fields.get("phase") == CHECKPOINT_PHASE:
            _check_checkpoint_entry(entry_id, seq, fields, self._key, self._recent)
            verdict.checkpoints += 1
        self._recent[seq] = digest
        if seq - RECENT_HASHES != self._watched:
            self._recent.pop(seq - RECENT_HASHES, None)
        verdict.checked += 1
        verdict.last_seq, self._expected, self._prev = seq, seq + 1, digest


def _check_start(entry_id: str, seq: int, fields: Mapping[str, str], key: bytes,
                 anchor: Mapping[str, str] | None) -> None:
    if seq == 1:
        if fields.get("prev") != GENESIS:
            raise _Broken(entry_id, seq, "the first entry's prev is not the genesis hash")
        return
    if not anchor:
        raise _Broken(entry_id, seq, f"the trail starts at seq {seq} and no signed retention anchor says it was "
                                     f"trimmed there: entries 1–{seq - 1} are missing")
    problem = signature_problem(key, "anchor", anchor)
    if problem:
        raise _Broken(entry_id, seq, f"the retention anchor is not valid: {problem}")
    anchored = int(anchor["seq"])
    if anchored != seq:
        missing = f"entries {anchored}–{seq - 1} are missing" if anchored < seq else "the anchor is ahead of it"
        raise _Broken(entry_id, seq, f"retention trimmed the trail to seq {anchored}, but it starts at seq {seq}: "
                                     f"{missing}")
    if anchor.get("prev") != fields.get("prev"):
        raise _Broken(entry_id, seq, "its prev hash is not the one the signed retention anchor recorded (replaced)")


def _check_checkpoint_entry(entry_id: str, seq: int, fields: Mapping[str, str], key: bytes,
                            recent: Mapping[int, str]) -> None:
    record = {"seq": fields.get("covers_seq", ""), "hash": fields.get("covers_hash", ""),
              "at": fields.get("signed_at", ""), "sig": fields.get("sig", ""), "key_id": fields.get("key_id", "")}
    problem = signature_problem(key, "head", record)
    if problem:
        raise _Broken(entry_id, seq, f"checkpoint not valid: {problem}")
    covered = int(record["seq"])
    if covered in recent and recent[covered] != record["hash"]:
        raise _Broken(entry_id, seq, f"the checkpoint's hash of seq {covered} is not that entry's hash")


def _check_tail(key: bytes, checkpoint: Mapping[str, str] | None, head: Mapping[str, str] | None,
                verdict: Verdict, recent: Mapping[int, str]) -> None:
    if checkpoint:
        problem = signature_problem(key, "head", checkpoint)
        if problem:
            raise _Broken("", None, f"the latest signed checkpoint is not valid: {problem}")
        covered = int(checkpoint["seq"])
        if covered > verdict.last_seq:
            raise _Broken("", covered, f"the signed checkpoint covers seq {covered} but the trail ends at seq "
                                       f"{verdict.last_seq}: entries {verdict.last_seq + 1}–{covered} were cut off")
        if covered in recent and recent[covered] != checkpoint.get("hash"):
            raise _Broken("", covered, f"seq {covered} is not the entry the signed checkpoint covered (replaced)")
        verdict.covered_seq = covered
    if head and head.get("seq"):
        head_seq = int(head["seq"])
        if head_seq > verdict.last_seq:
            raise _Broken("", head_seq, f"the chain head is seq {head_seq} but the trail ends at seq "
                                        f"{verdict.last_seq}: entries {verdict.last_seq + 1}–{head_seq} were cut off")
