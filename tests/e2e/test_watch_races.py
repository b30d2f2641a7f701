"""A watch check in flight while Riposte itself changes the user: the check (held after reading the rules) must not
write its older baseline after the restore's re-basing check wrote the newer one, or the next check would report
Riposte's own restore as an undone containment (bot/watch/store.py drops a check read before a re-base). The check
is held mid-way by the sandbox (a held Graph request), so the interleaving is exact."""

from __future__ import annotations

from bot.endpoints import SERVICES
from bot.watch.store import WatchStore
from tests.conftest import BotFactory
from tests.e2e.card_clicks import ALICE_UPN, RULE_FORWARDS, CaseThread
from tests.e2e.helpers import ALICE, jobs_done, tenant, wait_until
from tests.e2e.test_watch import undone_replies

AUTH_METHODS = f"^/users/{ALICE}/authentication/methods$"  # read by a check after the inbox rules


async def test_riposte_s_own_undo_during_a_check_is_never_reported_as_undone(make_bot: BotFactory) -> None:
    bot = await make_bot()
    thread = await CaseThread.open(bot, ALICE_UPN)
    await thread.click("list_inbox_rules")
    await thread.wait_for("Show inbox rules: done by")
    tenant(bot).add_fault(status=0, until_released=True, method="GET", path_regex=AUTH_METHODS)  # the first check's
    await thread.run("delete_inbox_rule", RULE_FORWARDS, approval=True, done="Delete rule “.”: done by")
    await wait_until(lambda: any(r.path.endswith("/authentication/methods") for r in tenant(bot).requests),
                     what="the first check, held after reading the rules (the deleted one gone)")
    await thread.run("restore_inbox_rule", RULE_FORWARDS, undo=True, done="Restore rule “.”: done by")
    store = WatchStore(bot.app[SERVICES].redis)

    async def rebased() -> bool:
        watch = await store.get(ALICE)
        return watch is not None and watch.baseline is not None

    await wait_until(rebased, what="the restore's re-baselining check")
    tenant(bot).faults.release()
    await jobs_done(bot)
    await thread.run("remove_forwarding", done="Remove forwarding: done by")  # one more check, re-baselining
    await jobs_done(bot)
    assert not undone_replies(thread), "Riposte's own restore was reported as an undone containment"
