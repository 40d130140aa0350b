"""The floor of benchmark 1: a bare Bolt app doing only the work a command cannot avoid.

Same libraries and server as ``sharebot serve`` (slack-bolt's AsyncApp behind Starlette,
uvicorn with uvloop and httptools, signed requests checked by Bolt), same shape of
listener (ack first, the work in a lazy listener, ``process_before_response=True``), and
per command only:

- ``list``: one read of the caller's link, one indexed read of their open grants
  (sharebot's own database and table, ``ix_grants_pair``; the columns the answer shows),
  a line for each, and the ``response_url`` post;
- ``<@U...> 1h`` (a share): one read of both people's links, the hub's POST share code,
  one INSERT recording it, ``chat.postMessage`` with the link, the ``response_url`` post.

No replay check, no intent, no Home tab, no audit: what is left of sharebot's time above
this is its own. Run by :mod:`bench.perf` as
``python -m bench.reference_app --port P --database URL`` with sharebot's environment
(``SLACK_*``, ``JUPYTERHUB_*``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
from typing import Any
from urllib.parse import quote

import httpx
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine, create_engine, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")


def build(engine: Engine, hub: httpx.AsyncClient) -> Starlette:
    client = AsyncWebClient(
        token=os.environ["SLACK_BOT_TOKEN"],
        base_url=os.environ["SLACK_API_URL"].rstrip("/") + "/",
    )
    bolt = AsyncApp(
        client=client,
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        process_before_response=True,
    )

    def open_grants(owner: str) -> list[Any]:
        with engine.connect() as connection:
            return list(
                connection.execute(
                    text(
                        "SELECT recipient_slack_id, server, state, expires_at, code_expires_at"
                        " FROM grants WHERE owner_hub = :owner AND state IN ('invited',"
                        " 'active', 'ending', 'withdrawing') ORDER BY id"
                    ),
                    {"owner": owner},
                )
            )

    def hub_users(*slack_ids: str) -> dict[str, str]:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT slack_user_id, hub_user FROM user_links"
                    " WHERE slack_user_id = :a OR slack_user_id = :b"
                ),
                {"a": slack_ids[0], "b": slack_ids[-1]},
            )
            return {row[0]: row[1] for row in rows}

    def record(owner: str, recipient: str, code_id: str) -> None:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO reference_shares (owner, recipient, code_id) VALUES (:o, :r, :c)"
                ),
                {"o": owner, "r": recipient, "c": code_id},
            )

    async def ack_empty(ack: AsyncAck) -> None:
        await ack()

    async def work(command: dict[str, Any], respond: AsyncRespond) -> None:
        caller, words = command["user_id"], command.get("text", "")
        if words.strip() == "list":
            owner = (await asyncio.to_thread(hub_users, caller)).get(caller, "")
            rows = await asyncio.to_thread(open_grants, owner)
            lines = [f"{len(rows)} open shares"]  # one line each, as sharebot's answer has
            lines += [f"• <@{r[0]}> on {owner}/{r[1]}: {r[2]} until {r[3] or r[4]}" for r in rows]
            await respond(text="\n".join(lines), response_type="ephemeral")
            return
        mention = MENTION.search(words)
        if mention is None:
            await respond(text="usage", response_type="ephemeral")
            return
        recipient = mention.group(1)
        people = await asyncio.to_thread(hub_users, caller, recipient)
        owner = people[caller]
        answer = await hub.post(
            f"/share-codes/{quote(owner, safe='')}/", json={"expires_in": 86400}
        )
        answer.raise_for_status()
        code = answer.json()
        await asyncio.to_thread(record, owner, people[recipient], str(code["id"]))
        await bolt.client.chat_postMessage(channel=recipient, text=f"shared: {code['accept_url']}")
        await respond(text="sent", response_type="ephemeral")

    bolt.command("/share-server")(ack=ack_empty, lazy=[work])
    handler = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/slack/events", events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", required=True, help="sharebot's database URL")
    args = parser.parse_args()
    engine = create_engine(args.database)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE IF NOT EXISTS reference_shares"
                " (id INTEGER PRIMARY KEY, owner TEXT, recipient TEXT, code_id TEXT)"
            )
        )
    hub = httpx.AsyncClient(
        base_url=os.environ["JUPYTERHUB_API_URL"],
        headers={"Authorization": f"token {os.environ['JUPYTERHUB_API_TOKEN']}"},
        timeout=30,
    )
    config = uvicorn.Config(
        build(engine, hub), host="127.0.0.1", port=args.port, log_level="warning"
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
