"""The request path in under two minutes: run it for any change that touches it (see bench/README.md).

    python bench/quick.py [--database-url postgresql://postgres@127.0.0.1:5432/opex_bench] [--seconds 4] [--rounds 3]

Measures, in one run and on one machine state:

- the floor: a bare Starlette application answering a static JSON body, served by the same uvicorn
  as the CRM, and the list's first-page SQL executed with psycopg alone (the statement the service
  sends, captured in process, replayed without SQLAlchemy);
- the CRM (`opex-crm serve`, one process): `/api/health`, `/api/auth/me` and the institutions list's
  first page, each loaded by `wrk` with 16 connections (requests/s, p50 and p99), three rounds in
  turns, the median of each figure kept and the runs' range noted;
- the institutions page in Chromium: a full load and the in-app navigation (drawer link from the
  dashboard), until the first row shows, each timed by the driver and in the page
  (`benchmark.measure_page`);
- the machine's own speed at that moment (a pure Python loop): this machine's speed varies by up to
  two times over minutes, which explains a run's figures better than any change.

Each figure is printed beside its target (issue 20) and the previous run's figure, read from and then
written to `bench/results/quick.json` (committed: the previous run is the last one someone recorded).
Needs `wrk` (Debian's package of that name) and a database made by `generate.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from benchmark import free_port, login, measure_page, percentile, running_server
from generate import BENCH_EMAIL, BENCH_PASSWORD, DEFAULT_URL, configure_environment, psycopg_url

RESULTS = Path(__file__).resolve().parent / "results" / "quick.json"
CONNECTIONS = 16


@dataclass
class Figure:
    name: str
    value: float
    unit: str  # "req/s" (higher is better) or "ms" (lower is better)
    target: float | None = None
    note: str = ""

    @property
    def higher_is_better(self) -> bool:
        return self.unit == "req/s"

    def verdict(self) -> str:
        if self.target is None:
            return "-"
        met = self.value >= self.target if self.higher_is_better else self.value <= self.target
        return "PASS" if met else "FAIL"

    def target_text(self) -> str:
        if self.target is None:
            return ""
        return f"{'>=' if self.higher_is_better else '<='} {self.target:,.0f}"


# --------------------------------------------------------------------------------------------
# Load with wrk


@dataclass
class Load:
    requests_per_second: float
    p50: float
    p99: float
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, *, seconds: int, headers: dict[str, str] | None = None) -> Load:
    """`wrk` with one thread (the server has the other core) and 16 connections, after one warm-up
    second; its latency distribution gives p50 and p99."""
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    subprocess.run([*command, "-d1s", url], capture_output=True, check=True)
    output = subprocess.run([*command, f"-d{seconds}s", url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    failed = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = (int(bad.group(1)) if bad else 0) + (sum(int(g) for g in failed.groups()) if failed else 0)
    return Load(rate, p50, p99, errors)


def median_load(loads: list[Load]) -> Load:
    """Each figure's median over several runs of the same load."""
    return Load(
        statistics.median(load.requests_per_second for load in loads),
        statistics.median(load.p50 for load in loads),
        statistics.median(load.p99 for load in loads),
        sum(load.errors for load in loads),
    )


# --------------------------------------------------------------------------------------------
# The floor

_BARE_APP = textwrap.dedent(
    """
    import sys
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def health(request):
        return JSONResponse({"status": "ok", "database": "ok"})

    app = Starlette(routes=[Route("/api/health", health)])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
    """
)


@contextmanager
def bare_starlette() -> Iterator[str]:
    """A Starlette application with one JSON route, served by uvicorn as `opex-crm serve` is (same
    event loop and HTTP parser, whatever is installed), without access log."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", _BARE_APP, str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def first_page_statement() -> tuple[str, dict[str, Any]]:
    """The SQL (and its parameters) of the institutions list's first page, as the service sends it to
    the driver, with the count that comes with it when it is a separate statement."""
    from sqlalchemy import event
    from sqlmodel import select

    from crm_app.institutions import service
    from crm_app.platform.db import get_engine, unit_of_work
    from crm_app.platform.models.people import User
    from crm_app.platform.permissions import actor_from

    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    with unit_of_work() as session:
        actor = actor_from(session.exec(select(User).where(User.email == BENCH_EMAIL)).one())
        event.listen(get_engine(), "before_cursor_execute", record)
        try:
            service.list_institutions(session, actor, service.InstitutionQuery())
        finally:
            event.remove(get_engine(), "before_cursor_execute", record)
    statement, parameters = max(seen, key=lambda item: "LIMIT" in item[0].upper() and "institutions" in item[0])
    return statement, dict(parameters or {})


def bare_query_ms(url: str, statement: str, parameters: dict[str, Any], *, runs: int = 200) -> float:
    """p50 of the first page's statement through psycopg alone (prepared after a few runs, as the
    application's driver does)."""
    samples = []
    with psycopg.connect(psycopg_url(url)) as connection:
        for index in range(runs + 10):
            started = time.perf_counter()
            connection.execute(statement, parameters).fetchall()
            if index >= 10:
                samples.append((time.perf_counter() - started) * 1000)
    return percentile(samples, 50)


def python_loop_seconds() -> float:
    """Ten million additions in a pure Python loop: the machine's speed at this moment."""
    started = time.perf_counter()
    total = 0
    for value in range(10_000_000):
        total += value
    return time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# The run


def measure(args: argparse.Namespace) -> list[Figure]:
    figures: list[Figure] = []
    loop = python_loop_seconds()
    figures.append(Figure("machine: 10M-addition Python loop", loop * 1000, "ms", note="speed of the moment"))

    with bare_starlette() as base:
        bare = wrk(f"{base}/api/health", seconds=args.seconds)
    figures.append(Figure("floor: bare Starlette, static JSON", bare.requests_per_second, "req/s"))
    statement, parameters = first_page_statement()
    raw_ms = bare_query_ms(args.database_url, statement, parameters)
    figures.append(Figure("floor: first page SQL, psycopg alone (p50)", raw_ms, "ms"))

    with running_server(args.database_url) as base:
        with httpx.Client(base_url=base, timeout=60) as client:
            login(client, args.email, args.password)
            bearer = {"Authorization": client.headers["Authorization"]}
        # The three loads in turns, `--rounds` times: a single run of a few seconds swings by 5 % or more
        # on this machine, so each figure is the median of its rounds, its range in the note.
        paths = {"health": "/api/health", "me": "/api/auth/me", "first": "/api/institutions?page=1"}
        runs: dict[str, list[Load]] = {name: [] for name in paths}
        for _ in range(args.rounds):
            for name, path in paths.items():
                load = wrk(f"{base}{path}", seconds=args.seconds, headers=None if name == "health" else bearer)
                if load.errors:
                    raise SystemExit(f"{path}: {load.errors} failed requests, the figures would mean nothing")
                runs[name].append(load)
        health, me, first = (median_load(runs[name]) for name in paths)
        floor = bare.requests_per_second

        def of_floor(name: str, load: Load) -> str:
            rates = sorted(run.requests_per_second for run in runs[name])
            spread = f", runs {rates[0]:,.0f} to {rates[-1]:,.0f}" if len(rates) > 1 else ""
            return f"{load.requests_per_second / floor:.1%} of the floor{spread}"

        figures += [
            Figure("GET /api/health", health.requests_per_second, "req/s", note=of_floor("health", health)),
            Figure("GET /api/auth/me", me.requests_per_second, "req/s", 1500, note=of_floor("me", me)),
            Figure("GET /api/auth/me p99", me.p99, "ms"),
            Figure("institutions first page", first.requests_per_second, "req/s", 800, note=of_floor("first", first)),
            Figure("institutions first page p50", first.p50, "ms", note=f"{first.p50 / raw_ms:.1f}x its SQL alone"),
            Figure("institutions first page p99", first.p99, "ms", 60),
        ]
        if not args.no_browser:
            pages = measure_page(base, loads=args.page_loads, email=args.email, password=args.password)
            for result in pages:
                target = 250.0 if "full load" in result.name else 120.0
                if result.p50 is not None:
                    figures.append(Figure(f"{result.name} (p50)", result.p50, "ms", target, note=result.note))
                else:
                    figures.append(Figure(result.name, float("nan"), "ms", note=result.error or result.note))
    return figures


def previous_run() -> dict[str, Any]:
    try:
        return json.loads(RESULTS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def print_figures(figures: list[Figure], previous: dict[str, Any]) -> None:
    before = {item["name"]: item["value"] for item in previous.get("figures", [])}
    width = max(len(f.name) for f in figures) + 2
    when = previous.get("at", "none")
    print(f"{'figure':<{width}}{'this run':>12}{'previous':>15}{'change':>9}  {'target':<10}{'result':<7}note")
    print(f"{'':<{width}}{'':>12}{when[:16]:>15}")
    print("-" * (width + 73))
    for figure in figures:
        old = before.get(figure.name)
        change = f"{figure.value / old - 1:+.0%}" if old else ""
        unit = " r/s" if figure.higher_is_better else " ms"
        old_text = f"{old:,.1f}{unit}" if old is not None else "-"
        print(
            f"{figure.name:<{width}}{figure.value:>8,.1f}{unit:<4}{old_text:>15}{change:>9}  "
            f"{figure.target_text():<10}{figure.verdict():<7}{figure.note}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--seconds", type=int, default=4, help="length of each wrk load (after 1 s of warm-up)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each REST load, in turns; the median is kept")
    parser.add_argument("--page-loads", type=int, default=10)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-save", action="store_true", help="do not record this run as the previous one")
    parser.add_argument("--email", default=BENCH_EMAIL)
    parser.add_argument("--password", default=BENCH_PASSWORD)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: install Debian's 'wrk' package")
    configure_environment(args.database_url)
    started = time.perf_counter()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    figures = measure(args)
    previous = previous_run()
    at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"OPEx CRM quick benchmark, {at}, load average before: {load}, {time.perf_counter() - started:.0f} s")
    print_figures(figures, previous)
    if not args.no_save:
        RESULTS.parent.mkdir(exist_ok=True)
        saved = [asdict(f) | {"value": round(f.value, 2)} for f in figures]
        record = {"at": at, "load_before": load, "figures": saved}
        RESULTS.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
