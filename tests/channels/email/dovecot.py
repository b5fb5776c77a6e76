"""A real IMAP server for tests: Debian's dovecot from a private config on a loopback port.

Installed by .ci/run (apt-get install dovecot-imapd); tests that need it skip with the reason when
/usr/sbin/dovecot is missing. Runs as root with a plaintext password file, mail in a temporary
maildir owned by nobody.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

DOVECOT = Path("/usr/sbin/dovecot")
DOVEADM = Path("/usr/bin/doveadm")
CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = nobody
default_internal_user = nobody
default_internal_group = nogroup
mail_location = maildir:{root}/mail/%u
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


@dataclass
class Dovecot:
    root: Path
    port: int
    user: str = "support@northwind.example"
    password: str = "imap-test-pass"

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"


def available() -> bool:
    return DOVECOT.exists() and DOVEADM.exists()


def start(root: Path, port: int) -> Dovecot:
    server = Dovecot(root, port)
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "passwd").write_text(f"{server.user}:{{PLAIN}}{server.password}\n")
    server.config.write_text(CONFIG.format(root=root, port=port))
    for sub in ("mail", "home", "state"):
        shutil.chown(root / sub, "nobody", "nogroup")
    os.chmod(root, 0o755)
    # The daemon keeps inherited pipes open: give it none, or run() waits for it forever.
    with open(root / "start.log", "wb") as log:
        subprocess.run([str(DOVECOT), "-c", str(server.config)], check=True, stdin=subprocess.DEVNULL,
                       stdout=log, stderr=log, timeout=30)
    _wait_listening(port, root)
    return server


def stop(server: Dovecot) -> None:
    subprocess.run([str(DOVEADM), "-c", str(server.config), "stop"], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)


def _wait_listening(port: int, root: Path) -> None:
    """Dovecot daemonizes before its listener is up: poll the port (a start-up wait, not a test's sync)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
    raise RuntimeError(f"dovecot did not start listening on {port}:\n{log[-2000:]}")
