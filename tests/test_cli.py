"""The real `helpline` command in a subprocess: migrations, operators, tokens, `run`, and bad configs."""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.actions.context import Desk
from bot.actions.operators import token_viewer
from bot.config import load_settings
from bot.events import EventBus
from bot.storage.engine import create_engine, session_factory
from bot.storage.files import AttachmentStore
from tests.conftest import free_port

SECRET = "cli-test-secret-0123456789-abcdefghijklmnop"
SCRIPT = Path(sys.executable).with_name("helpline")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]
DEADLINE_SECONDS = 60  # a guard against a hung process, not a timing assertion


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HELPLINE_SECRET_KEY", "HELPLINE_DEBUG")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def helpline(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([*COMMAND, *args], input=stdin, capture_output=True, text=True, env=environment(),
                          timeout=DEADLINE_SECONDS)


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "helpline.toml"
    path.write_text(f'[desk]\ndata_dir = "data"\n[web]\nsecret_key = "{SECRET}"\n'
                    '[[queues]]\nname = "general"\n[[queues]]\nname = "billing"\n')
    return path


async def viewer_of_token(config: Path, token: str):
    """Check a printed token the way the API does, on the database the CLI wrote."""
    settings = load_settings(config)
    engine = create_engine(settings.database_url)
    try:
        desk = Desk(session_factory(engine), EventBus(), settings,
                    AttachmentStore(settings.attachments_dir, settings.attachments.max_bytes, settings.attachments.allowed_types))
        return await token_viewer(desk, token)
    finally:
        await engine.dispose()


def assert_clean_failure(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    for needle in needles:
        assert needle in result.stderr, result.stderr


async def test_upgrade_operators_and_tokens(config):
    upgraded = helpline("db", "upgrade", "--config", str(config))
    assert upgraded.returncode == 0 and "up to date" in upgraded.stdout, upgraded.stderr
    assert "alembic" not in upgraded.stderr  # no library chatter without -v

    added = helpline("operators", "add", "anna", "--role", "operator", "--queues", "general", "--password-stdin",
                     "--config", str(config), stdin="anna-password-1\n")
    assert added.returncode == 0 and "anna added" in added.stdout, added.stderr
    assert "anna-password-1" not in added.stdout + added.stderr
    assert_clean_failure(helpline("operators", "add", "anna", "--password-stdin", "--config", str(config),
                                  stdin="other-password\n"), "'anna' exists already")
    assert_clean_failure(helpline("operators", "add", "bob", "--queues", "general,nowhere", "--password-stdin",
                                  "--config", str(config), stdin="bob-password-1\n"), "unknown queue(s): nowhere")
    assert_clean_failure(helpline("operators", "add", "carl", "--config", str(config)), "--password-stdin")
    assert_clean_failure(helpline("operators", "add", "dora", "--password-stdin", "--config", str(config),
                                  stdin="short\n"), "at least 8 characters")

    listed = helpline("operators", "list", "--config", str(config))
    assert listed.returncode == 0
    assert [line.split()[:3] for line in listed.stdout.splitlines()] == [["anna", "operator", "general"]]

    created = helpline("tokens", "create", "anna", "--name", "crm", "--config", str(config))
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("hl_") and "shown only now" in created.stderr
    viewer = await viewer_of_token(config, token)
    assert viewer is not None and viewer.username == "anna"
    assert_clean_failure(helpline("tokens", "create", "ghost", "--config", str(config)), "no active operator 'ghost'")

    disabled = helpline("operators", "disable", "anna", "--config", str(config))
    assert disabled.returncode == 0 and "revoked" in disabled.stdout
    assert await viewer_of_token(config, token) is None
    assert "(disabled)" in helpline("operators", "list", "--config", str(config)).stdout
    assert_clean_failure(helpline("operators", "disable", "ghost", "--config", str(config)), "no operator 'ghost'")


BAD_CONFIGS = {
    "unknown key": (f'[web]\nsecret_key = "{SECRET}"\nprot = 8080\n', ["web.prot", "unknown key"]),
    "wrong type": (f'[web]\nsecret_key = "{SECRET}"\nport = "eighty"\n', ["web.port", "valid integer"]),
    "nested value": (f'[web]\nsecret_key = "{SECRET}"\n[channels.webchat]\nmax_message_chars = -1\n',
                     ["channels.webchat.max_message_chars", "greater than or equal to 1"]),
    "missing secret": ('[web]\nsecret_key = "env:UNSET_VAR"\n', ["web.secret_key", "UNSET_VAR is not set"]),
    "TOML syntax": (f'[web\nsecret_key = "{SECRET}"\n', ["is not valid TOML", "line 1"]),
    "missing file": (None, ["does not exist"]),
}


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_run_with_a_bad_config_names_the_key_and_reason(tmp_path, case):
    content, needles = BAD_CONFIGS[case]
    path = tmp_path / "helpline.toml"
    if content is not None:
        path.write_text(content)
    result = helpline("run", "--config", str(path), "--port", str(free_port()))
    assert_clean_failure(result, *needles)


def read_banner(process: subprocess.Popen, deadline: float) -> str:
    """Standard output up to the banner's last line, or whatever came before the deadline."""
    text = b""
    # Raw reads of the pipe: a buffered readline would keep lines that select() cannot see.
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"Press Ctrl+C to stop." not in text and time.monotonic() < deadline:
            if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    break
                text += chunk
    return text.decode()


def healthz_when_ready(url: str, deadline: float) -> int:
    """Poll /healthz until it answers or the deadline passes."""
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=5) as response:
                return response.status
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # the poll interval, not a wait for something to have happened


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_run_serves_prints_its_urls_and_stops_cleanly(config, stop):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([*COMMAND, "run", "--config", str(config), "--port", str(port)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=environment())
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        banner = read_banner(process, deadline)
        assert healthz_when_ready(url, deadline) == 200
        assert f"{url}/console" in banner and f"{url}/api/openapi.json" in banner and f"{url}/chat" in banner, banner
        with urllib.request.urlopen(url + "/api/openapi.json", timeout=5) as response:
            assert response.status == 200
        process.send_signal(stop)
        _, errors = process.communicate(timeout=DEADLINE_SECONDS)
        errors = errors.decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, errors
    assert "Traceback" not in errors
