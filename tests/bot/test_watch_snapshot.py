"""The watcher's comparison (bot/watch/snapshot.py): what counts as undone, and how the baseline moves on."""

from __future__ import annotations

from typing import Any

from bot.watch.snapshot import compare, merge, missing_parts

RULE = {"name": "fw", "enabled": True, "suspicious": "forwards mail outside", "sig": "a"}


def snapshot(**facets: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"account": {"enabled": False, "synced": True}, "block": None, "rules": {},
                            "forwarding": [], "methods": {}, "grants": {}, "full_access": []}
    return {**base, **facets}


def test_each_kind_of_undo_is_a_change() -> None:
    baseline = snapshot(block={"id": "p", "name": "Riposte block", "present": True, "enabled": True})
    now = snapshot(account={"enabled": True, "synced": True},
                   block={"id": "p", "name": "Riposte block", "present": False, "enabled": False},
                   rules={"r1": RULE}, forwarding=["smtp:x@evil.example"], methods={"m": "Phone"},
                   grants={"g": "Mail Sync Pro"}, full_access=["mallory@contoso.com"])
    texts = [change.text for change in compare(baseline, now)]
    assert texts == ["account re-enabled", "block policy “Riposte block” removed",
                     "suspicious inbox rule “fw” created: forwards mail outside",
                     "new mailbox forwarding to smtp:x@evil.example",
                     "new FullAccess to the mailbox for mallory@contoso.com",
                     "new MFA method: Phone", "new consented app: Mail Sync Pro"]
    assert compare(baseline, now)[0].hint.startswith("probably directory sync")


def test_re_baselined_facets_and_benign_rules_are_not_changes() -> None:
    now = snapshot(account={"enabled": True, "synced": False},
                   rules={"r2": {**RULE, "suspicious": ""}, "r3": {**RULE, "enabled": False}})
    assert compare(snapshot(), now, frozenset({"account"})) == []


def test_removed_then_re_added_counts_as_new() -> None:
    baseline = snapshot(forwarding=["smtp:a@evil.example"], rules={"r1": RULE})
    removed = snapshot(forwarding=[], rules={"r1": {**RULE, "enabled": False}})
    moved_on = merge(baseline, removed, frozenset())
    assert moved_on["forwarding"] == [] and moved_on["rules"] == {"r1": RULE}
    again = snapshot(forwarding=["smtp:a@evil.example"], rules={"r1": RULE})
    assert [change.key for change in compare(moved_on, again)] == ["forwarding:smtp:a@evil.example"]
    rebased = merge(baseline, removed, frozenset({"rules"}))
    assert [change.key for change in compare(rebased, again)] == ["rule:r1", "forwarding:smtp:a@evil.example"]


def test_missing_parts_say_what_still_lets_the_attacker_in_or_out() -> None:
    assert missing_parts(snapshot()) == []
    now = snapshot(account={"enabled": True, "synced": False}, forwarding=["smtp:a@evil.example"],
                   rules={"r1": RULE})
    assert missing_parts(now) == ["sign-in still possible (account enabled, no block policy)",
                                  "forwarding to smtp:a@evil.example", "suspicious inbox rule “fw” enabled"]
    blocked = {**now, "block": {"id": "p", "name": "b", "present": True, "enabled": True}}
    assert missing_parts(blocked)[0] == "forwarding to smtp:a@evil.example"
