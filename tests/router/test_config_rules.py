"""`[router]` settings: rules are validated like the rest of the config and build a working router."""
from datetime import datetime, timezone

import pytest

from bot.cli_router import build_router
from bot.config import parse_settings
from bot.errors import ConfigError

BASE = {"web": {"secret_key": "x" * 40}, "desk": {"time_zone": "Europe/Riga"},
        "queues": [{"name": "general"}, {"name": "billing"}, {"name": "complaints"}]}


def settings_with(router: dict):
    return parse_settings(BASE | {"router": router}, "test.toml")


def test_unknown_rule_queue_names_the_key():
    with pytest.raises(ConfigError, match=r"router.rules.0.queue: 'vip' is not one of the queues"):
        settings_with({"rules": [{"name": "r", "queue": "vip", "channels": ["telegram"]}]})


def test_unknown_triage_queue_bad_regex_and_empty_rule_are_refused():
    with pytest.raises(ConfigError, match=r"router.triage_queue: 'triage' is not one of the queues"):
        settings_with({"triage_queue": "triage"})
    with pytest.raises(ConfigError, match=r"router.rules.0: .*not a valid regular expression"):
        settings_with({"rules": [{"name": "r", "queue": "general", "patterns": {"en": ["(unclosed"]}}]})
    with pytest.raises(ConfigError, match=r"router.rules.0: .*at least one condition"):
        settings_with({"rules": [{"name": "r", "queue": "general"}]})
    with pytest.raises(ConfigError, match=r"router.rules.0.business_hours"):
        settings_with({"rules": [{"name": "r", "queue": "general", "business_hours": "sometimes"}]})


def test_configured_rules_and_hours_drive_the_router(fixed_classifier):
    settings = settings_with({
        "confidence_threshold": 0.5,
        "business_hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"},
        "rules": [
            {"name": "regulator", "queue": "complaints", "keywords": {"lv": ["PTAC"], "en": ["consumer protection"]}},
            {"name": "weekend", "queue": "general", "business_hours": "outside"},
        ]})
    router, _ = build_router(settings, classifier=fixed_classifier("billing", 0.9))
    saturday = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
    monday = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    assert router.route("iesniegšu sūdzību PTAC", language="lv", now=monday).rule == "regulator"
    assert router.route("charged twice", language="en", now=saturday).rule == "weekend"
    decision = router.route("charged twice", language="en", now=monday)
    assert (decision.queue, decision.rule) == ("billing", None)
    assert router.triage_queue == "general"  # desk.default_queue when router.triage_queue is not set


def test_the_demo_configuration_loads_with_its_router():
    from bot.config import load_settings

    settings = load_settings()
    assert settings.router.confidence_threshold > 0
    assert all(rule.queue in {q.name for q in settings.queues} for rule in settings.router.rules)
