"""Run ``sharebot`` with a real ``kill -9`` at a chosen step, for crash tests and bench.faults.

    python -m tests.support.crashing_serve \
        --crash-after bot.hub.client:HubClient.create_share_code -- serve

``--crash-after TARGET`` (or ``--crash-before``) replaces the method ``module:Class.method``
with one that calls the real method and then sends SIGKILL to its own process (or before
the call), on the ``--nth`` call (default the first). Nothing in the product knows of this:
the process dies exactly as a killed pod does, with no ``finally`` blocks or shutdown.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import os
import signal
import sys
from collections.abc import Callable
from typing import Any


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def install(target: str, *, before: bool, nth: int = 1) -> None:
    """Patch ``module:Class.method`` to kill this process at its ``nth`` call."""
    module_name, _, attribute = target.partition(":")
    class_name, _, method_name = attribute.partition(".")
    owner = getattr(importlib.import_module(module_name), class_name)
    real: Callable[..., Any] = getattr(owner, method_name)
    calls = 0

    def hit() -> bool:
        nonlocal calls
        calls += 1
        return calls == nth

    if inspect.iscoroutinefunction(real):

        @functools.wraps(real)
        async def crashing(*args: Any, **kwargs: Any) -> Any:
            now = hit()
            if now and before:
                _die()
            result = await real(*args, **kwargs)
            if now:
                _die()
            return result

    else:

        @functools.wraps(real)
        def crashing(*args: Any, **kwargs: Any) -> Any:
            now = hit()
            if now and before:
                _die()
            result = real(*args, **kwargs)
            if now:
                _die()  # from a worker thread too: SIGKILL takes the whole process
            return result

    setattr(owner, method_name, crashing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crashing_serve", description=__doc__)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--crash-after", metavar="MODULE:CLASS.METHOD")
    where.add_argument("--crash-before", metavar="MODULE:CLASS.METHOD")
    parser.add_argument("--nth", type=int, default=1, help="crash at this call (default 1)")
    parser.add_argument("cli", nargs=argparse.REMAINDER, help="-- then sharebot's arguments")
    args = parser.parse_args(argv)
    install(args.crash_after or args.crash_before, before=bool(args.crash_before), nth=args.nth)
    from bot.cli import main as cli_main

    cli = [a for a in args.cli if a != "--"] if args.cli[:1] == ["--"] else args.cli
    return cli_main(cli)


if __name__ == "__main__":
    sys.exit(main())
