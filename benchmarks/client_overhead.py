"""Client overhead per call: ``PrimoHook.create_ticket`` against a raw ``requests.Session`` and ``HttpHook``.

All clients send the same ``POST /tickets`` (same JSON body, same headers) to :mod:`benchmarks.fast_server`,
running in its own process, and decode the same answer. They are interleaved in short blocks (50 rounds of
20 calls each, 1,000 calls per client; the order rotates every round) so that drift on a noisy machine
hits them alike; every ratio is the median of the per-round ratios. Wall time is the goal's measure; the
client process's CPU time (``time.process_time``; the server is another process) is shown beside it, as
it is less disturbed by other load on the machine.

The clients:

* ``raw``: ``requests.Session().post(url, json=body, timeout=30)``, ``raise_for_status()``, ``.json()``:
  the floor for any requests-based client.
* ``primo``: ``PrimoHook(primo_conn_id=...).create_ticket(title, description=...)``: argument checks,
  the retry generator, status and body checks included.
* ``httphook``: ``HttpHook(method="POST").run("/tickets", json=body).json()`` as a DAG author would write
  it (apache-airflow-providers-http). ``run`` reads the connection and builds a new ``Session`` (so a new
  TCP connection) on every call.
* ``httphook_session`` (context only): ``HttpHook`` with one session kept (``get_conn()`` once, then
  ``run_and_check``), i.e. HttpHook's cost without the per-call session.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common import API_KEY, INFO, SKIP, Row, fast_server, median, set_connection, verdict

TITLE = "Disk full on db-1"
DESCRIPTION = "The nightly load failed: no space left on device."
BODY = {"title": TITLE, "description": DESCRIPTION}
GOAL_VS_RAW = 1.15

Client = Callable[[], Any]


def make_clients(url: str) -> dict[str, Client]:
    """One zero-argument callable per client, each sending one ``POST /tickets`` and decoding it."""
    import requests

    from primo_provider.hooks.primo import PrimoHook

    session = requests.Session()
    session.headers.update(
        {"Authorization": f"Bearer {API_KEY}", "Accept": "application/json", "User-Agent": "bench"}
    )
    tickets_url = f"{url}/tickets"

    def raw() -> Any:
        response = session.post(tickets_url, json=BODY, timeout=30.0)
        response.raise_for_status()
        return response.json()

    set_connection("primo_bench", {"conn_type": "primo", "host": url, "password": API_KEY})
    hook = PrimoHook(primo_conn_id="primo_bench")

    def primo() -> Any:
        return hook.create_ticket(TITLE, description=DESCRIPTION)

    clients: dict[str, Client] = {"raw": raw, "primo": primo}
    try:
        from airflow.providers.http.hooks.http import HttpHook
    except ImportError:
        return clients

    set_connection(
        "http_bench",
        {
            "conn_type": "http",
            "host": url,
            "extra": {"Authorization": f"Bearer {API_KEY}", "Accept": "application/json", "timeout": 30},
        },
    )
    http_hook = HttpHook(method="POST", http_conn_id="http_bench")

    def httphook() -> Any:
        return http_hook.run("/tickets", json=BODY).json()

    kept_hook = HttpHook(method="POST", http_conn_id="http_bench")
    kept_session = kept_hook.get_conn()

    def httphook_session() -> Any:
        prepared = kept_session.prepare_request(requests.Request("POST", tickets_url, json=BODY))
        return kept_hook.run_and_check(kept_session, prepared, {"timeout": 30}).json()

    clients.update(httphook=httphook, httphook_session=httphook_session)
    return clients


def measure(
    clients: dict[str, Client], rounds: int, per_round: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU seconds per call of each client, one value per round; the order rotates every round.

    CPU is the client process's own (the server runs in another process).
    """
    names = list(clients)
    for client in clients.values():  # warm up: connections, imports, caches
        for _ in range(20):
            client()
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for number in range(rounds):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            client = clients[name]
            started, started_cpu = time.perf_counter(), time.process_time()
            for _ in range(per_round):
                client()
            cpu[name].append((time.process_time() - started_cpu) / per_round)
            wall[name].append((time.perf_counter() - started) / per_round)
    return wall, cpu


def _ratio(per_call: dict[str, list[float]], name: str, baseline: str) -> float:
    """Median over rounds of ``name``'s time per call divided by ``baseline``'s in the same round."""
    return median([a / b for a, b in zip(per_call[name], per_call[baseline], strict=True)])


LABELS = {
    "raw": "raw Session",
    "primo": "PrimoHook",
    "httphook": "HttpHook.run",
    "httphook_session": "HttpHook, session kept",
}


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs"


def run(quick: bool = False) -> list[Row]:
    """Measure and return the client-overhead rows."""
    rounds, per_round = (3, 20) if quick else (50, 20)
    with fast_server() as url:
        clients = make_clients(url)
        wall, cpu = measure(clients, rounds, per_round)
    calls = f"{rounds} rounds × {per_round} calls, interleaved"

    def ratios(name: str, baseline: str) -> dict[str, float]:
        return {"wall": _ratio(wall, name, baseline), "cpu": _ratio(cpu, name, baseline)}

    def shown(ratio: dict[str, float]) -> str:
        return f"{ratio['wall']:.2f}x (CPU {ratio['cpu']:.2f}x)"

    vs_raw = ratios("primo", "raw")
    rows = [
        Row(
            "client.per_call",
            "client: CPU time per POST /tickets in the client, median of rounds",
            ", ".join(f"{LABELS[name]} {_us(median(values))}" for name, values in cpu.items()),
            measured={"wall_seconds": wall, "cpu_seconds": cpu, "rounds": rounds, "per_round": per_round},
        ),
        Row(
            "client.primo_vs_raw",
            f"client: PrimoHook.create_ticket / raw requests.Session ({calls})",
            shown(vs_raw),
            f"<= {GOAL_VS_RAW:.2f}x",
            verdict(vs_raw["wall"] <= GOAL_VS_RAW),
            vs_raw,
        ),
    ]
    if "httphook" not in wall:
        rows.append(
            Row(
                "client.primo_vs_httphook",
                "client: PrimoHook.create_ticket / HttpHook.run",
                "skipped: apache-airflow-providers-http is not installed",
                "< 1.00x",
                SKIP,
            )
        )
        return rows
    vs_http = ratios("primo", "httphook")
    vs_kept = ratios("primo", "httphook_session")
    rows += [
        Row(
            "client.primo_vs_httphook",
            f"client: PrimoHook.create_ticket / HttpHook.run ({calls})",
            shown(vs_http),
            "< 1.00x",
            verdict(vs_http["wall"] < 1.0),
            vs_http,
        ),
        Row(
            "client.primo_vs_httphook_session",
            "client: PrimoHook.create_ticket / HttpHook with one session kept (context)",
            shown(vs_kept),
            "",
            INFO,
            vs_kept,
        ),
    ]
    return rows


def profile(calls: int = 1000, top: int = 25) -> str:
    """cProfile of ``calls`` PrimoHook.create_ticket calls against the fast server (``run.py --profile``)."""
    with fast_server() as url:
        primo = make_clients(url)["primo"]
        for _ in range(20):
            primo()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(calls):
            primo()
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()
