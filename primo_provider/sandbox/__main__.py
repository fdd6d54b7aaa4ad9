"""Command line: ``python -m primo_provider.sandbox --port 8080 --api-key KEY [...]``.

Serves until SIGINT or SIGTERM, then exits 0. Prints a banner (base URL, Airflow connection) on stdout and
one line per API request (``METHOD path status``) on stderr; the API key is never logged.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from primo_provider.sandbox.faults import FAULT_KINDS, Fault
from primo_provider.sandbox.server import PrimoSandbox, RequestRecord

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m primo_provider.sandbox",
        description="Run a local, spec-faithful Primo API server (tickets, employees) with fault injection.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8080, help="TCP port; 0 picks a free one (default %(default)s)"
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("PRIMO_SANDBOX_API_KEY", "sandbox-api-key"),
        help="accepted bearer token (default: $PRIMO_SANDBOX_API_KEY or 'sandbox-api-key')",
    )
    parser.add_argument(
        "--state-file", type=Path, help="JSON state file: loaded at start, rewritten on change"
    )
    parser.add_argument(
        "--employees", type=int, metavar="N", help="serve N employees (default: the 5 default employees)"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault, 'ENDPOINT:KIND[:key=value,...]', e.g. "
        "'POST /tickets:status:status=429,retry_after=1,times=2'; repeatable. "
        f"Kinds: {', '.join(FAULT_KINDS)}",
    )
    parser.add_argument("--ready-file", type=Path, help="write the base URL to this file once listening")
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    return parser


def _log_request(record: RequestRecord) -> None:
    """One stderr line per API request; never includes headers (so never the API key)."""
    when = datetime.fromtimestamp(record.timestamp, UTC).strftime("%H:%M:%S.%f")[:-3]
    status = record.status if record.status is not None else "dropped"
    fault = f" fault={record.fault}" if record.fault else ""
    print(f"{when} {record.method} {record.path} {status}{fault}", file=sys.stderr, flush=True)


def _single_quoted(value: str) -> str:
    """Shell-quote for an ``export`` line, always with single quotes."""
    return f"'{value}'" if "'" not in value else shlex.quote(value)


def _banner(sandbox: PrimoSandbox, faults: Sequence[Fault]) -> str:
    lines = [
        f"Primo sandbox listening on {sandbox.url}",
        f"  {len(sandbox.employees())} employees, {len(sandbox.tickets())} tickets"
        + (f", state file {sandbox.state_file}" if sandbox.state_file else ""),
        "Airflow connection:",
        f"  export AIRFLOW_CONN_PRIMO_DEFAULT={_single_quoted(sandbox.connection_uri)}",
        "  # or, as JSON:",
        f"  export AIRFLOW_CONN_PRIMO_DEFAULT={_single_quoted(sandbox.connection_json)}",
        f"Control API (no auth): {sandbox.url}/_sandbox/{{state,requests,faults,reset}}",
    ]
    lines += [f"Fault: {fault.describe()}" for fault in faults]
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until SIGINT/SIGTERM; return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        faults = [Fault.parse(spec) for spec in args.fault]
    except (ValueError, TypeError) as exc:
        parser.error(f"--fault: {exc}")
    try:
        sandbox = PrimoSandbox(
            host=args.host,
            port=args.port,
            api_key=args.api_key,
            employees=args.employees,
            state_file=args.state_file,
            on_request=None if args.quiet else _log_request,
        )
        sandbox.start()
    except (OSError, ValueError) as exc:
        print(f"primo sandbox: cannot start: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        for fault in faults:
            sandbox.add_fault(fault)
        print(_banner(sandbox, faults), flush=True)
        if args.ready_file is not None:
            tmp = args.ready_file.with_name(args.ready_file.name + ".tmp")
            tmp.write_text(sandbox.url + "\n", encoding="utf-8")
            os.replace(tmp, args.ready_file)
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
    print("Primo sandbox stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
