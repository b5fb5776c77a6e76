"""Queue -> operator policy: eligibility, capacity per channel, language, levels, each strategy, order, steps."""
from datetime import datetime, timedelta, timezone

from router.assign import (
    Candidate, QueuePolicy, TicketFacts, bump_priority, capacity_for, choose_operator, eligible, offer_timeout,
    order_backlog, step_action, step_due,
)

NOW = datetime(2026, 1, 14, 10, 0, tzinfo=timezone.utc)
CHAT = {"webchat": 3, "telegram": 3, "email": 10}


def op(id, *, level=1, languages=("en",), load=None, capacity=CHAT, status="online", last=None) -> Candidate:
    return Candidate(id, level, frozenset(languages), dict(capacity), dict(load or {}), status, last)


def ticket(id=1, *, channel="webchat", language="en", priority="normal", waiting=NOW, **kw) -> TicketFacts:
    return TicketFacts(id, "delivery", channel, language, priority, waiting, **kw)


LEAST_BUSY = QueuePolicy()


def test_only_online_operators_with_free_capacity_on_the_channel_are_eligible():
    t = ticket(channel="webchat")
    assert eligible(op(1), t, LEAST_BUSY)
    assert not eligible(op(2, status="away"), t, LEAST_BUSY)
    assert not eligible(op(3, status="offline"), t, LEAST_BUSY)
    full_chats = op(4, load={"webchat": 3})
    assert not eligible(full_chats, t, LEAST_BUSY)
    # Full on chats, but emails are counted against their own capacity.
    assert eligible(full_chats, ticket(channel="email"), LEAST_BUSY)


def test_capacity_per_channel_falls_back_to_the_kind_then_to_the_star():
    capacity = {"telegram": 2, "*": 4}
    assert capacity_for(capacity, "telegram") == 2
    assert capacity_for(capacity, "telegram:shopbot") == 2
    assert capacity_for(capacity, "email:support") == 4
    assert capacity_for({"email": 10}, "webchat") == 0  # no capacity for that channel: never gets its tickets


def test_capacity_counts_tickets_of_each_channel_instance_separately():
    o = op(1, capacity={"telegram": 1, "*": 5}, load={"telegram:a": 1})
    assert not eligible(o, ticket(channel="telegram:a"), LEAST_BUSY)
    assert eligible(o, ticket(channel="telegram:b"), LEAST_BUSY)


def test_language_must_match_where_the_queue_requires_it():
    russian = ticket(language="ru")
    assert choose_operator(russian, [op(1, languages=("en", "hu")), op(2, languages=("en", "ru"), load={"webchat": 2})],
                           LEAST_BUSY).id == 2
    assert choose_operator(russian, [op(1, languages=("en",))], LEAST_BUSY) is None
    assert choose_operator(russian, [op(1, languages=("en",))], QueuePolicy(language_required=False)).id == 1
    # A ticket in an unknown language may go to anyone.
    assert choose_operator(ticket(language=""), [op(1, languages=("hu",))], LEAST_BUSY).id == 1


def test_relaxing_drops_the_language_and_level_requirements():
    t = ticket(language="lt", relaxed=True)
    assert choose_operator(t, [op(1, languages=("en",), level=3)], QueuePolicy(max_level=1)).id == 1
    assert choose_operator(ticket(language="lt"), [op(1, languages=("en",))], LEAST_BUSY) is None


def test_least_busy_by_count_picks_who_holds_fewest_tickets():
    ops = [op(1, load={"webchat": 2}), op(2, load={"email": 1}), op(3, load={"webchat": 1, "email": 1})]
    assert choose_operator(ticket(), ops, LEAST_BUSY).id == 2


def test_least_busy_by_share_weighs_each_operators_capacity():
    big = op(1, capacity={"webchat": 10}, load={"webchat": 4})  # 40% used
    small = op(2, capacity={"webchat": 2}, load={"webchat": 1})  # 50% used
    assert choose_operator(ticket(), [big, small], QueuePolicy(least_busy_by="share")).id == 1
    assert choose_operator(ticket(), [big, small], LEAST_BUSY).id == 2


def test_ties_go_to_who_waited_longest_since_their_last_ticket():
    ops = [op(1, last=NOW - timedelta(minutes=1)), op(2, last=NOW - timedelta(minutes=9)), op(3, last=NOW)]
    assert choose_operator(ticket(), ops, LEAST_BUSY).id == 2


def test_round_robin_picks_the_longest_since_last_assignment_whatever_the_load():
    rr = QueuePolicy(strategy="round_robin")
    ops = [op(1, last=NOW - timedelta(minutes=5)), op(2, load={"webchat": 2}, last=NOW - timedelta(hours=1)), op(3, last=None)]
    assert choose_operator(ticket(), ops, rr).id == 3  # never assigned comes first
    assert choose_operator(ticket(), ops[:2], rr).id == 2


def test_sticky_prefers_the_clients_previous_operator_then_their_manager_then_least_busy():
    sticky = QueuePolicy(strategy="sticky")
    ops = [op(1), op(2, load={"webchat": 2}), op(3, load={"webchat": 1})]
    assert choose_operator(ticket(preferred=(2, 3)), ops, sticky).id == 2
    busy = [op(1), op(2, load={"webchat": 3}), op(3, load={"webchat": 1})]
    assert choose_operator(ticket(preferred=(2, 3)), busy, sticky).id == 3  # previous one is full: the manager
    assert choose_operator(ticket(preferred=(9,)), busy, sticky).id == 1  # neither is here: least busy
    assert choose_operator(ticket(), busy, sticky).id == 1


def test_manual_queues_never_push_tickets():
    assert choose_operator(ticket(), [op(1)], QueuePolicy(strategy="manual")) is None


def test_backup_levels_get_tickets_only_when_the_first_line_is_full():
    first = op(1, level=1, load={"webchat": 2})
    backup = op(2, level=2)
    assert choose_operator(ticket(), [first, backup], LEAST_BUSY).id == 1
    full = op(1, level=1, load={"webchat": 3})
    assert choose_operator(ticket(), [full, backup], LEAST_BUSY).id == 2
    assert choose_operator(ticket(), [full, backup], QueuePolicy(max_level=1)) is None


def test_operators_who_refused_are_not_asked_again():
    t = ticket(refused=frozenset({1}))
    assert choose_operator(t, [op(1), op(2, load={"webchat": 2})], LEAST_BUSY).id == 2
    assert choose_operator(ticket(refused=frozenset({1, 2})), [op(1), op(2)], LEAST_BUSY) is None


def test_the_backlog_is_served_by_priority_then_waiting_time():
    backlog = [
        ticket(1, priority="normal", waiting=NOW - timedelta(minutes=30)),
        ticket(2, priority="urgent", waiting=NOW - timedelta(minutes=1)),
        ticket(3, priority="normal", waiting=NOW - timedelta(minutes=50)),
        ticket(4, priority="low", waiting=NOW - timedelta(hours=5)),
        ticket(5, priority="high", waiting=NOW - timedelta(minutes=2)),
    ]
    assert [t.id for t in order_backlog(backlog)] == [2, 5, 3, 1, 4]


def test_offers_apply_to_the_configured_channels_only():
    policy = QueuePolicy(offer_timeout=45, offer_channels=frozenset({"webchat", "telegram"}))
    assert offer_timeout(policy, "webchat") == 45
    assert offer_timeout(policy, "telegram:shopbot") == 45
    assert offer_timeout(policy, "email") == 0
    assert offer_timeout(QueuePolicy(offer_timeout=30), "email") == 30
    assert offer_timeout(QueuePolicy(), "webchat") == 0


def test_step_timeouts_relax_then_fall_back_as_configured():
    relax = QueuePolicy(step_timeout=300, on_step_timeout="relax")
    assert step_action(relax, relaxed=False) == "relax" and step_action(relax, relaxed=True) is None
    both = QueuePolicy(step_timeout=300, on_step_timeout="relax_then_fallback", fallback_queue="general")
    assert step_action(both, relaxed=False) == "relax" and step_action(both, relaxed=True) == "fallback"
    fallback = QueuePolicy(step_timeout=300, on_step_timeout="fallback", fallback_queue="general")
    assert step_action(fallback, relaxed=False) == "fallback"
    assert step_action(QueuePolicy(), relaxed=False) is None
    assert step_due(relax, NOW, relaxed=False) == NOW + timedelta(minutes=5)
    assert step_due(relax, NOW, relaxed=True) is None


def test_priority_rises_one_step_and_stops_at_urgent():
    assert [bump_priority(p) for p in ("low", "normal", "high", "urgent")] == ["normal", "high", "urgent", "urgent"]
