"""Configuration: every error names the key's dotted path and the reason; secrets may come from the environment."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DEMO_CONFIG, load_settings, parse_settings
from bot.errors import ConfigError

SECRET = "0123456789abcdefghijklmnopqrstuvwxyz"
EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


@pytest.fixture(autouse=True)
def no_secret_override(monkeypatch):
    """The developer's own HELPLINE_SECRET_KEY must not change what these tests see."""
    monkeypatch.delenv("HELPLINE_SECRET_KEY", raising=False)


def minimal(**sections) -> dict:
    raw = {"web": {"secret_key": SECRET}}
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values} if isinstance(values, dict) else values
    return raw


def error_of(raw: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, "helpline.toml")
    return str(caught.value)


@pytest.mark.parametrize("raw, path, reason", [
    (minimal(web={"port": "eighty"}), "web.port", "valid integer"),
    (minimal(web={"port": 70000}), "web.port", "less than or equal to 65535"),
    (minimal(web={"prot": 8080}), "web.prot", "unknown key"),
    (minimal(channels={"webchat": {"max_message_chars": 0}}), "channels.webchat.max_message_chars", "greater than or equal to 1"),
    (minimal(channels={"webchat": {"enabled": "sometimes"}}), "channels.webchat.enabled", "valid boolean"),
    (minimal(queues=[{"name": "Bad Name"}]), "queues.0.name", "should match pattern"),
    (minimal(queues=[{"name": "general"}, {"title": "No name"}]), "queues.1.name", "required key is missing"),
    (minimal(queues={"name": "general"}), "queues", "valid tuple"),
    (minimal(desk={"time_zone": "Mars/Olympus"}), "desk.time_zone", "unknown time zone"),
    (minimal(desk={"default_queue": "nowhere"}), "desk.default_queue", "not one of the queues"),
    (minimal(desk={"database_url": "mysql://db/helpline"}), "desk.database_url", "not supported"),
    (minimal(desk={"database_url": "sqlite:///desk.db"}), "desk.database_url", "sqlite+aiosqlite"),
    (minimal(outbox={"max_attempts": 0}), "outbox.max_attempts", "greater than or equal to 1"),
    (minimal(demo_operators=[{"username": "a", "display_name": "A", "password": "long-enough", "queues": ["zzz"]}]),
     "demo_operators.0.queues", "unknown queue"),
    ({"web": {}}, "web.secret_key", "required key is missing"),
    ({}, "web", "required key is missing"),
    (minimal(web={"secret_key": "too-short"}), "web.secret_key", "at least 32 characters"),
    ({"web": 5}, "web", "valid dictionary"),
])
def test_a_bad_value_is_reported_with_its_path_and_reason(raw, path, reason):
    message = error_of(raw)
    line = next((line for line in message.splitlines() if line.strip().startswith(f"{path}:")), None)
    assert line is not None, message
    assert reason in line, message
    assert message.startswith("helpline.toml is not valid")


def test_every_bad_key_is_listed_at_once():
    message = error_of(minimal(web={"port": -1, "prot": 1}, desk={"default_language": "english"}))
    assert {"web.port", "web.prot", "desk.default_language"} <= {line.split(":")[0].strip() for line in message.splitlines()[1:]}


def test_a_secret_may_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("HL_TEST_SECRET", SECRET)
    monkeypatch.setenv("HL_TEST_DB", "postgresql+asyncpg://helpline:pw@db/helpline")
    settings = parse_settings({"web": {"secret_key": "env:HL_TEST_SECRET"},
                               "desk": {"database_url": "env:HL_TEST_DB"},
                               "queues": [{"name": "general", "title": "env:HL_TEST_SECRET"}]})
    assert settings.web.secret_key == SECRET and settings.database_url.endswith("@db/helpline")
    assert settings.queues[0].title == SECRET


@pytest.mark.parametrize("raw, path", [
    ({"web": {"secret_key": "env:UNSET_VAR"}}, "web.secret_key"),
    (minimal(queues=[{"name": "general"}, {"name": "billing", "title": "env:UNSET_VAR"}]), "queues.1.title"),
])
def test_a_missing_environment_secret_names_the_key_and_the_variable(monkeypatch, raw, path):
    monkeypatch.delenv("UNSET_VAR", raising=False)
    message = error_of(raw)
    assert message.startswith(f"{path}: environment variable UNSET_VAR is not set")


def test_helpline_secret_key_overrides_the_file(monkeypatch):
    override = "from-the-environment-" + "x" * 20
    monkeypatch.setenv("HELPLINE_SECRET_KEY", override)
    assert parse_settings(minimal()).web.secret_key == override
    assert parse_settings({}).web.secret_key == override
    # It wins over an env: reference too, so that variable need not exist.
    monkeypatch.delenv("UNSET_VAR", raising=False)
    assert parse_settings({"web": {"secret_key": "env:UNSET_VAR"}}).web.secret_key == override
    assert "web: Input should be a valid dictionary" in error_of({"web": 5})


def test_the_demo_and_the_example_configs_load(monkeypatch):
    demo = load_settings()
    assert demo.desk.default_queue == "general" and len(demo.queues) >= 3
    assert {op.username for op in demo.demo_operators} >= {"admin"}
    assert load_settings(DEMO_CONFIG) == demo
    monkeypatch.setenv("HELPLINE_SECRET_KEY", SECRET)  # the example reads its secret from there
    example = load_settings(EXAMPLE)
    assert example.web.secret_key == SECRET and example.desk.data_dir == EXAMPLE.parent / "var"


def test_a_relative_data_dir_is_relative_to_the_config_file(tmp_path):
    path = tmp_path / "conf" / "helpline.toml"
    path.parent.mkdir()
    path.write_text(f'[desk]\ndata_dir = "state"\n[web]\nsecret_key = "{SECRET}"\n')
    settings = load_settings(path)
    assert settings.desk.data_dir == path.parent / "state"
    assert settings.database_url == f"sqlite+aiosqlite:///{(path.parent / 'state' / 'helpline.db').as_posix()}"


@pytest.mark.parametrize("content, expected", [
    ("[web\nsecret_key = 1\n", "is not valid TOML"),
    ('[web]\nsecret_key = "unterminated\n', "is not valid TOML"),
    (b"\xff\xfe[web]", "cannot be read"),
])
def test_a_broken_file_is_reported_without_a_traceback(tmp_path, content, expected):
    path = tmp_path / "helpline.toml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ConfigError, match=expected) as caught:
        load_settings(path)
    assert str(path) in str(caught.value)


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_settings(tmp_path)
