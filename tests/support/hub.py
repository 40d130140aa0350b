"""The real-JupyterHub harness now lives in the package (``sharebot demo`` needs it at
runtime): :mod:`bot.sandbox.hub`. Re-exported here so test imports stay as they were.

Which JupyterHub the tests run is the tests' choice, not the product's:
``SHAREBOT_TEST_HUB_PYTHON`` names the Python of a virtualenv with another JupyterHub release
(``scripts/test`` makes ``.venv-hub5`` with 5.2.1); unset, the hub runs in this interpreter
with the release the ``test`` extra installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.hub import (
    ADMIN_SERVICE_NAME,
    CHP_NAME,
    COOKIE_SECRET_HEX,
    PROXY_PID_FILE,
    REPO_ROOT,
    SERVICE_NAME,
    SHAREBOT_SCOPES,
    ProxyNotFound,
    RunningHub,
    find_chp,
    free_port,
    sharebot_oauth_redirect,
    start_hub,
)

HUB_PYTHON_ENV = "SHAREBOT_TEST_HUB_PYTHON"
# "VERSION (PYTHON)" of each hub a test fixture started, for the end-of-run summary.
HUBS_STARTED = pytest.StashKey[set[str]]()

_VERSION_SCRIPT = "import importlib.metadata as m; print(m.version('jupyterhub'))"


def hub_python_from_env() -> str | None:
    """The interpreter named by ``SHAREBOT_TEST_HUB_PYTHON``, or None (this interpreter)."""
    return os.environ.get(HUB_PYTHON_ENV) or None


def installed_hub_version(python: str | None) -> str:
    """The jupyterhub release installed for ``python`` (None: this interpreter), asked of its
    package metadata without starting a hub; a short reason instead when there is none."""
    if python is None:
        try:
            return metadata.version("jupyterhub")
        except metadata.PackageNotFoundError:
            return "not installed"
    try:
        done = subprocess.run(
            [python, "-c", _VERSION_SCRIPT], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {python}: {exc}"
    if done.returncode != 0:
        return "not installed"
    return done.stdout.strip()


def describe_hub_python(python: str | None) -> str:
    """``jupyterhub X.Y.Z (where from)``, for pytest's header."""
    if python is None:
        where = f"this interpreter, {sys.executable}"
    else:
        where = f"{HUB_PYTHON_ENV}={python}"
    return f"jupyterhub {installed_hub_version(python)} ({where})"


def start_test_hub(config: pytest.Config, workdir: Path, **kwargs: Any) -> RunningHub:
    """``start_hub(workdir, **kwargs)`` in the interpreter ``SHAREBOT_TEST_HUB_PYTHON`` names
    (default: this one), recording the version the hub's API reports for the run's summary."""
    running = start_hub(workdir, python=hub_python_from_env(), **kwargs)
    config.stash.setdefault(HUBS_STARTED, set()).add(f"{running.version} ({running.python})")
    return running


# What the test hub reports for sharebot's token (GET /hub/api/user), expanded by the hub.
HUB_REPORTED = (
    "access:servers",
    "delete:servers",
    "groups:shares",
    "list:users",
    "read:groups:name",
    "read:groups:shares",
    "read:servers",
    "read:shares",
    "read:users:activity",
    "read:users:name",
    "read:users:shares",
    "servers",
    "shares",
    "start:servers",
    "users:shares",
)

__all__ = [
    "ADMIN_SERVICE_NAME",
    "CHP_NAME",
    "COOKIE_SECRET_HEX",
    "HUBS_STARTED",
    "HUB_PYTHON_ENV",
    "HUB_REPORTED",
    "PROXY_PID_FILE",
    "REPO_ROOT",
    "SERVICE_NAME",
    "SHAREBOT_SCOPES",
    "ProxyNotFound",
    "RunningHub",
    "describe_hub_python",
    "find_chp",
    "free_port",
    "hub_python_from_env",
    "installed_hub_version",
    "sharebot_oauth_redirect",
    "start_hub",
    "start_test_hub",
]
