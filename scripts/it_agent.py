"""A stand-in IT agent for demos and tests: it closes Primo tickets whose title starts with a prefix.

It watches Primo (the sandbox, usually) and, once a matching open ticket (``PENDING`` or ``IN_PROGRESS``) has
been seen for ``after_seconds``, sets its status, ``COMPLETED`` by default (``CANCELLED`` to rehearse the
failure path), optionally after adding a comment. Standard library only (urllib), so it runs anywhere.

As a module (tests, the demo script)::

    stop = threading.Event()
    agent = threading.Thread(
        target=complete_tickets,
        args=(sandbox.url, sandbox.api_key, "Access request:"),
        kwargs={"after_seconds": 5, "stop_event": stop},
        daemon=True,
    )
    agent.start()
    ...
    stop.set()
    agent.join()

From the command line (Ctrl-C to stop)::

    python scripts/it_agent.py --base-url http://127.0.0.1:8765 --api-key sandbox-api-key \\
        --prefix "Access request:" --after 5

``--base-url`` and ``--api-key`` default to the ``AIRFLOW_CONN_PRIMO_DEFAULT`` connection (JSON form) when
it is set, as the sandbox prints it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

log = logging.getLogger("it_agent")

STATUSES = ("PENDING", "IN_PROGRESS", "COMPLETED", "CANCELLED")
OPEN_STATUSES = ("PENDING", "IN_PROGRESS")
PER_PAGE = 100


class PrimoClient:
    """The few calls the agent needs, over urllib.

    :param base_url: Primo's base URL, such as the sandbox's ``http://127.0.0.1:8765``.
    :param api_key: the API key, sent as ``Authorization: Bearer``.
    :param timeout: seconds to wait for each answer.
    """

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        """Send one request; return the decoded JSON answer. HTTP errors raise ``urllib.error.HTTPError``."""
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.api_key}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return json.loads(response.read() or b"null")

    def tickets(self, search_term: str) -> Iterator[dict[str, Any]]:
        """Every ticket whose title or reference contains ``search_term``, page after page."""
        page = 1
        while True:
            params = {"page": page, "perPage": PER_PAGE, "searchTerm": search_term}
            body = self.call("GET", "/tickets", params=params)
            yield from body["data"]
            if not body["data"] or page >= body["pagination"]["totalPages"]:
                return
            page += 1

    def set_status(self, ticket_id: str, status: str) -> dict[str, Any]:
        """Set a ticket's status."""
        return self.call(
            "POST", f"/tickets/{urllib.parse.quote(ticket_id, safe='')}/status", body={"status": status}
        )

    def add_comment(self, ticket_id: str, text: str) -> dict[str, Any]:
        """Add a comment to a ticket."""
        return self.call(
            "POST", f"/tickets/{urllib.parse.quote(ticket_id, safe='')}/comments", body={"text": text}
        )


def complete_tickets(
    base_url: str,
    api_key: str,
    title_prefix: str,
    *,
    after_seconds: float,
    stop_event: threading.Event,
    status: str = "COMPLETED",
    comment: str | None = None,
    poll_interval: float = 0.5,
    max_tickets: int | None = None,
    handled: list[str] | None = None,
) -> list[str]:
    """Close open tickets whose title starts with ``title_prefix``, until ``stop_event`` is set.

    A ticket is handled once it has been seen open for ``after_seconds`` (counted from when the agent first
    saw it, so clock differences with the server do not matter): the agent adds ``comment``, if any, then
    sets ``status``. Request failures are logged and retried at the next round, so faults injected in the
    sandbox do not stop the agent.

    :param base_url: Primo's base URL.
    :param api_key: the API key.
    :param title_prefix: only tickets whose title starts with this (case-sensitive) are touched.
    :param after_seconds: how long a ticket stays open, at least, before the agent acts.
    :param stop_event: set it to stop the agent (checked every ``poll_interval``).
    :param status: the status to set: ``COMPLETED`` (default) or ``CANCELLED``, ``IN_PROGRESS``...
    :param comment: a comment to add before changing the status.
    :param poll_interval: seconds between two looks at the ticket list.
    :param max_tickets: stop by itself after handling this many tickets.
    :param handled: a list to append the ids of handled tickets to as they are handled (to follow progress
        from another thread); a new one if not given.
    :return: the ids of the tickets handled, in order.
    """
    status = status.strip().upper()
    if status not in STATUSES:
        raise ValueError(f"status: {status!r} is not one of {', '.join(STATUSES)}")
    if not title_prefix:
        raise ValueError("title_prefix: must not be empty (the agent would close every ticket)")
    client = PrimoClient(base_url, api_key)
    done: list[str] = [] if handled is None else handled
    first_seen: dict[str, float] = {}
    while not stop_event.is_set():
        try:
            for ticket in list(client.tickets(title_prefix)):
                ticket_id = ticket["id"]
                if not ticket["title"].startswith(title_prefix) or ticket["status"] not in OPEN_STATUSES:
                    continue
                seen = first_seen.setdefault(ticket_id, time.monotonic())
                if ticket_id in done or time.monotonic() - seen < after_seconds:
                    continue
                if comment:
                    client.add_comment(ticket_id, comment)
                client.set_status(ticket_id, status)
                done.append(ticket_id)
                log.info(
                    "IT agent: %s %s (%s) -> %s", ticket["reference"], ticket["title"], ticket_id, status
                )
                if max_tickets is not None and len(done) >= max_tickets:
                    return done
        except (OSError, ValueError, KeyError) as error:  # urllib errors are OSErrors; bad JSON ValueErrors
            log.warning("IT agent: Primo call failed (%s); trying again", error)
        stop_event.wait(poll_interval)
    return done


def _connection_from_env() -> tuple[str | None, str | None]:
    raw = os.environ.get("AIRFLOW_CONN_PRIMO_DEFAULT", "").strip()
    if not raw.startswith("{"):
        return None, None
    conn = json.loads(raw)
    return conn.get("host"), conn.get("password")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module's docstring."""
    env_url, env_key = _connection_from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=env_url, required=env_url is None, help="Primo base URL")
    parser.add_argument("--api-key", default=env_key, required=env_key is None, help="Primo API key")
    parser.add_argument("--prefix", required=True, help="handle tickets whose title starts with this")
    parser.add_argument("--after", type=float, default=5.0, help="seconds a ticket stays open (default 5)")
    parser.add_argument("--status", default="COMPLETED", help="status to set (default COMPLETED)")
    parser.add_argument("--comment", default=None, help="comment to add before setting the status")
    parser.add_argument("--poll-interval", type=float, default=0.5, help="seconds between looks")
    parser.add_argument("--max-tickets", type=int, default=None, help="stop after this many tickets")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    stop = threading.Event()
    if args.duration is not None:
        timer = threading.Timer(args.duration, stop.set)
        timer.daemon = True
        timer.start()
    try:
        handled = complete_tickets(
            args.base_url,
            args.api_key,
            args.prefix,
            after_seconds=args.after,
            stop_event=stop,
            status=args.status,
            comment=args.comment,
            poll_interval=args.poll_interval,
            max_tickets=args.max_tickets,
        )
    except KeyboardInterrupt:
        return 130
    finally:
        stop.set()
    log.info("IT agent: handled %d ticket(s)", len(handled))
    return 0


if __name__ == "__main__":
    sys.exit(main())
