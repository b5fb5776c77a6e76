"""Each rule kind, first match wins, and every decision says why."""
from datetime import date, datetime, time, timezone

import pytest

from router.hours import BusinessHours
from router.routing import TicketRouter
from router.rules import rule_from_config

RIGA = BusinessHours.from_config("Europe/Riga", ("mon", "tue", "wed", "thu", "fri"), time(9), time(18),
                                 (date(2026, 11, 18),))
QUEUES = ["general", "billing", "delivery", "returns", "tech", "sales", "complaints"]


def make_router(rules, classifier):
    built = [rule_from_config(spec, RIGA) for spec in rules]
    return TicketRouter(built, classifier, triage_queue="general", confidence_threshold=0.5, queues=QUEUES)


def test_keywords_are_per_language(fixed_classifier):
    router = make_router([{"name": "regulator", "queue": "complaints",
                           "keywords": {"ru": ["суд", "роспотребнадзор"], "lv": ["PTAC"]}}], fixed_classifier())
    assert router.route("Подам в суд!", language="ru").queue == "complaints"
    # The Russian list is not consulted for a Latvian message, nor the Latvian one for Russian.
    assert router.route("Подам в суд!", language="lv").rule is None
    assert router.route("rakstīšu PTAC", language="lv").rule == "regulator"
    assert router.route("PTAC", language="ru").rule is None
    # Unknown language: every list is tried.
    assert router.route("PTAC", language="").rule == "regulator"


def test_keywords_ignore_case_diacritics_and_script(fixed_classifier):
    router = make_router([{"name": "refund", "queue": "returns",
                           "keywords": {"ru": ["возврат"], "lv": ["atgriešana"], "any": ["refund*"]}}], fixed_classifier())
    assert router.route("VOZVRAT tovara", language="ru").rule == "refund"
    assert router.route("atgriesana", language="lv").rule == "refund"
    assert router.route("was it REFUNDED?", language="de").rule == "refund"  # "any" and a prefix keyword
    # A keyword without "*" must be a whole word.
    assert router.route("возвратный клапан", language="ru").rule is None


def test_regular_expressions(fixed_classifier):
    router = make_router([{"name": "invoice-number", "queue": "billing",
                           "patterns": {"any": [r"\bINV-\d{6}\b"]}}], fixed_classifier())
    assert router.route("about inv-123456 please", language="en").rule == "invoice-number"
    assert router.route("about INV-12345 please", language="en").rule is None


def test_channel_and_language_conditions_must_all_hold(fixed_classifier):
    router = make_router([{"name": "ru-mail", "queue": "delivery", "channels": ["email-ru"], "languages": ["ru", "uk"]}],
                         fixed_classifier())
    assert router.route("x", channel="email-ru", language="uk").rule == "ru-mail"
    assert router.route("x", channel="email-ru", language="en").rule is None
    assert router.route("x", channel="telegram", language="ru").rule is None


@pytest.mark.parametrize(("moment", "inside"), [
    (datetime(2026, 11, 23, 7, 30, tzinfo=timezone.utc), True),    # Monday 09:30 in Riga (UTC+2)
    (datetime(2026, 11, 23, 6, 59, tzinfo=timezone.utc), False),   # Monday 08:59 in Riga
    (datetime(2026, 11, 23, 15, 59, tzinfo=timezone.utc), True),   # Monday 17:59 in Riga
    (datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc), False),   # Monday 18:00 in Riga: closed
    (datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc), False),   # Saturday noon
    (datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc), False),   # Sunday noon
    (datetime(2026, 11, 18, 10, 0, tzinfo=timezone.utc), False),   # Wednesday, a holiday
    (datetime(2026, 7, 6, 6, 30, tzinfo=timezone.utc), True),      # Monday 09:30 in summer (UTC+3)
])
def test_business_hours_in_the_configured_time_zone(fixed_classifier, moment, inside):
    router = make_router([{"name": "after-hours", "queue": "general", "business_hours": "outside"},
                          {"name": "office", "queue": "sales", "business_hours": "inside"}], fixed_classifier("tech"))
    decision = router.route("hello", language="en", now=moment)
    assert decision.rule == ("office" if inside else "after-hours")


def test_business_hours_rule_never_matches_without_a_time(fixed_classifier):
    router = make_router([{"name": "after-hours", "queue": "general", "business_hours": "outside"}], fixed_classifier("tech"))
    assert router.route("hello", language="en").queue == "tech"


def test_overnight_window_belongs_to_the_day_it_opened():
    night = BusinessHours.from_config("UTC", ("fri",), time(22), time(6))
    assert night.is_open(datetime(2026, 11, 27, 23, 0, tzinfo=timezone.utc))      # Friday 23:00
    assert night.is_open(datetime(2026, 11, 28, 5, 0, tzinfo=timezone.utc))       # Saturday 05:00
    assert not night.is_open(datetime(2026, 11, 28, 23, 0, tzinfo=timezone.utc))   # Saturday 23:00


def test_first_matching_rule_wins_and_the_reason_is_recorded(fixed_classifier):
    classifier = fixed_classifier("tech")
    router = make_router([
        {"name": "vip-bot", "queue": "sales", "channels": ["telegram-vip"]},
        {"name": "money", "queue": "billing", "keywords": {"en": ["invoice"]}},
        {"name": "invoice-too", "queue": "general", "keywords": {"en": ["invoice"]}},
    ], classifier)
    decision = router.route("send the invoice", channel="telegram-vip", language="en")
    assert (decision.queue, decision.rule, decision.reason, decision.confidence) == ("sales", "vip-bot", "rule vip-bot", 1.0)
    decision = router.route("send the invoice", channel="webchat", language="en")
    assert (decision.queue, decision.rule) == ("billing", "money")
    assert classifier.calls == 0  # a rule decided: the model was not consulted


def test_a_rule_without_conditions_is_refused():
    with pytest.raises(ValueError):
        rule_from_config({"name": "all", "queue": "general"}, RIGA)
