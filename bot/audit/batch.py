"""Group commit for the audit trail: entries written while an append is on its way to Redis go together in the
next append, one round trip for all of them (a burst of alerts writes one entry each).

The chain is the same as with one entry per append (bot/audit/chain.py): the entries of a batch are hashed in order,
each linking to the one before it, and the script adds them only if the head is still the one they link to, then
moves the head to the last of them, atomically; otherwise it answers the current head and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.audit.chain import GENESIS, entry_hash

MAX_BATCH = 64

# KEYS: stream, head. ARGV: expected head seq, expected head hash, genesis hash, then per entry: its hash, its number
# of fields, its field/value pairs. Returns {1, checkpoint seq, checkpoint time (ms), entry ids...} or
# {0, head seq, head hash} when the head moved.
APPEND_MANY = """
local unpack = unpack or table.unpack
local head = redis.call('HMGET', KEYS[2], 'seq', 'hash', 'cp_seq', 'cp_at')
local seq = head[1] or '0'
local hash = head[2] or ARGV[3]
if seq ~= ARGV[1] or hash ~= ARGV[2] then return {0, seq, hash} end
local reply = {1, head[3] or '0', head[4] or '0'}
local count = tonumber(seq)
local i = 4
while i <= #ARGV do
  local fields = tonumber(ARGV[i + 1])
  reply[#reply + 1] = redis.call('XADD', KEYS[1], '*', unpack(ARGV, i + 2, i + 1 + 2 * fields))
  hash = ARGV[i]
  count = count + 1
  i = i + 2 + 2 * fields
end
redis.call('HSET', KEYS[2], 'seq', tostring(count), 'hash', hash, 'id', reply[#reply])
return reply
"""


def batch_args(head: tuple[int, str], batch: Sequence[Mapping[str, str]]) -> tuple[list[str], list[tuple[int, str]]]:
    """The script's arguments for appending `batch` after `head` (seq, hash), and each entry's (seq, hash)."""
    seq, prev = head
    args = [str(seq), prev, GENESIS]
    chained: list[tuple[int, str]] = []
    for fields in batch:
        seq += 1
        body = {**fields, "seq": str(seq), "prev": prev}
        digest = entry_hash(body)
        body["hash"] = digest
        args += [digest, str(len(body))]
        args += [part for name, value in body.items() for part in (name, value)]
        chained.append((seq, digest))
        prev = digest
    return args, chained
