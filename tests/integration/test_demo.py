"""`sharebot demo` end to end: a real hub, the Slack stand-in and `sharebot serve`, as a user
runs it. Checks the printed story, that no secret is printed, and that nothing is left behind."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.sandbox.hub import REPO_ROOT
from bot.sandbox.slack_client import BOT_TOKEN, SIGNING_SECRET
from tests.support import postgres

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        postgres.server_url() is not None,
        reason="the demo always runs on its own SQLite file; the SQLite run covers it",
    ),
]

DEADLINE = 120  # generous: the demo takes about 10 s on a small machine

STEPS = [
    "1. @owner shares their server with @alice for an hour",
    "@owner types: /share-server @alice 1h pairing on the notebook",
    "2. @alice accepts; sharebot notices and tells @owner",
    "@alice clicks [Accept and open] and logs in to JupyterHub",
    "hub: alice can now open owner's server  [ok]",
    "3. @bob asks @owner for access",
    "@bob types: /share-server request @owner 2h need the GPU notebook",
    "4. @owner approves; @bob gets his invitation",
    "@owner clicks [Approve]",
    "5. @bob accepts",
    "hub: alice and bob can open owner's server  [ok]",
    "6. An hour later: @alice's time is up",
    "hub: alice can no longer open owner's server; bob still can (1h left)  [ok]",
]
DIGEST_STEPS = [
    "7. Weeks later: the daily digest finds a forgotten share",
    "hub: carol can open owner's server (a share sharebot did not make)  [ok]",
    "sharebot -> @owner (direct message):",
    "@owner clicks [Revoke]",
    "hub: carol can no longer open owner's server; bob still can  [ok]",
]
LAST_STEP = "sharebot's log holds no token, share code or accept link  [ok]"


def demo_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SHAREBOT_"))}
    bins = [str(Path(sys.executable).parent), str(REPO_ROOT / "node_modules" / ".bin")]
    env["PATH"] = os.pathsep.join([*bins, env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_demo(tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "demo"],
        cwd=tmp_path,
        env=demo_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def workdir_of(output: str) -> Path:
    match = re.search(r"\(in (\S+), removed at the end\)", output)
    assert match, output
    return Path(match.group(1))


def hub_port_of(output: str) -> int:
    match = re.search(r"JupyterHub (http://\S+) with users", output)
    assert match, output
    port = urlsplit(match.group(1)).port
    assert port
    return port


def port_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_demo_plays_the_whole_story(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = start_demo(tmp_path)
    try:
        out, err = proc.communicate(timeout=DEADLINE)
    finally:
        proc.kill()
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"
    steps = [*STEPS, *DIGEST_STEPS, LAST_STEP]
    position = 0
    for step in steps:  # every step, in order
        found = out.find(step, position)
        assert found >= 0, f"missing or out of order: {step!r}\n{out}"
        position = found
    # what people saw: the invitation with its button, the owner told, the request buttons
    assert "[Accept and open]" in out
    assert "@alice accepted your share" in out
    assert "[Approve]" in out and "[Deny]" in out
    assert "has ended" in out
    hub_checks = [line for line in out.splitlines() if line.startswith("  hub: ")]
    assert len(hub_checks) >= 7 and all(line.endswith("[ok]") for line in hub_checks)
    # never a secret, on either stream
    for stream in (out, err):
        for secret in (
            "code=",
            "accept-share",
            "xoxb-",
            BOT_TOKEN,
            SIGNING_SECRET,
            "<@U",
            "<!date",
        ):
            assert secret not in stream, f"{secret!r} printed:\n{stream}"
    assert "<accept link>" not in out  # the button hides the link: not even a placeholder
    # everything cleaned up: the temp dir is gone and the hub no longer answers
    assert not workdir_of(out).exists()
    assert port_closed(hub_port_of(out))
    assert elapsed < 60, f"the demo took {elapsed:.1f} s"


def test_ctrl_c_stops_and_removes_everything(tmp_path: Path) -> None:
    proc = start_demo(tmp_path)
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + DEADLINE
    try:
        # readline blocks, but the demo prints step 1 within seconds or fails and exits
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("1. ") or time.monotonic() > deadline:
                break
        assert any(line.startswith("1. ") for line in seen), "".join(seen)
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    output = "".join(seen) + rest
    assert proc.returncode == 130, f"{output}\n{err}"
    assert "interrupted; everything it started is stopped and removed" in err
    assert not workdir_of(output).exists()
    assert port_closed(hub_port_of(output))
