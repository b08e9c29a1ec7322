"""Benchmark the institutions list on a generated database (see bench/README.md).

    python bench/benchmark.py --database-url postgresql://postgres@127.0.0.1:5432/opex_bench

Starts `opex-crm serve` on a free local port against that database, logs in through the REST
API and times `GET /api/institutions` end to end over HTTP for each scenario (first page, deep
page, sorts, every filter alone, searches), then the institutions page in Chromium for a
logged-in user, the header's global search service, and a 10,000-row CSV import (rolled back).
Prints p50/p95 per scenario against the targets of the issue, then the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from france import TEAM_REGIONS, TYPE_LABELS_FR
from generate import (
    BENCH_EMAIL,
    BENCH_PASSWORD,
    CONTACT_COLUMNS,
    DEFAULT_URL,
    INSTITUTION_COLUMNS,
    Factory,
    Staff,
    configure_environment,
    luhn_check_digit,
    plan,
    psycopg_url,
    vacuum_analyze,
)

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CSV = Path("/work/shared/data/institutions_fr_sample.csv")
SAMPLE_HEADERS = (
    "Nom;Type;FINESS;SIRET;N° compte;Adresse;Code postal;Ville;Région;Téléphone;Lits;"
    "Salles d'opération;Spécialités;Prénom contact;Nom contact;Email contact;Fonction contact;CA annuel"
)
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# The flags of tests/e2e/conftest.py.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LIST_TARGET = (8.0, 20.0)  # p50, p95 in ms, GET /api/institutions end to end
PAGE_TARGET = (None, 300.0)  # page ready
SEARCH_TARGET = (None, 100.0)  # global search service
IMPORT_TARGET = 1000.0  # rows/s
NOISY = 1.3  # cores busy during a sequential scenario above which something else ran too


# --------------------------------------------------------------------------------------------
# Figures


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class Result:
    name: str
    rows: str = ""
    p50: float | None = None
    p95: float | None = None
    target: tuple[float | None, float | None] | None = None
    note: str = ""
    unit: str = "ms"
    error: str = ""  # the scenario did not run as meant (HTTP error, wrong rows): its figures mean nothing

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        if self.note.startswith("skipped"):
            return "SKIP"
        if self.target is None or self.p50 is None or self.p95 is None:
            return "-"
        p50_max, p95_max = self.target
        if self.unit == "rows/s":  # a throughput: higher is better, the figure sits in p50
            return "PASS" if p50_max is not None and self.p50 >= p50_max else "FAIL"
        ok = (p50_max is None or self.p50 <= p50_max) and (p95_max is None or self.p95 <= p95_max)
        return "PASS" if ok else "FAIL"

    def target_text(self) -> str:
        if self.target is None:
            return ""
        p50_max, p95_max = self.target
        if self.unit == "rows/s":
            return f">= {p50_max:,.0f} rows/s"
        parts = ([f"p50<={p50_max:g}"] if p50_max is not None else []) + (
            [f"p95<={p95_max:g}"] if p95_max is not None else []
        )
        return " ".join(parts)


def timed(samples: list[float], action: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = action()
    samples.append((time.perf_counter() - started) * 1000)
    return value


def print_table(results: Sequence[Result]) -> None:
    width = max(len(r.name) for r in results) + 2
    print(f"{'scenario':<{width}}{'rows':>9}{'p50 ms':>9}{'p95 ms':>9}  {'target':<20}result")
    print("-" * (width + 56))
    for r in results:
        if r.unit == "rows/s" and r.p50 is not None:
            figures = f"{r.p50:>9,.0f}{'rows/s':>9}"
        elif r.p50 is not None and r.p95 is not None:
            figures = f"{r.p50:>9.1f}{r.p95:>9.1f}"
        else:
            figures = f"{'':>18}"
        notes = "; ".join(n for n in (r.error, r.note) if n)
        print(
            f"{r.name:<{width}}{r.rows:>9}{figures}  {r.target_text():<20}{r.verdict}"
            + (f"  ({notes})" if notes else "")
        )


# --------------------------------------------------------------------------------------------
# The server


#: The process id of each server `running_server` started, by its base URL (bench/tabs.py reads its memory).
SERVER_PIDS: dict[str, int] = {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(url: str) -> Iterator[str]:
    """`opex-crm serve` on a free port of 127.0.0.1, as tests/e2e/conftest.py starts it."""
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="opex-bench-server-")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env = {
        **inherited,
        "DATABASE_URL": url,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "DATA_DIR": data_dir,
        "NICEGUI_STORAGE_PATH": os.path.join(data_dir, "nicegui"),
        "APP_ENV": "development",
        "SCHEDULER_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        # The rate limit's statement is paid on every request, as in production, but a benchmark's
        # thousands of requests from one address a minute must not be refused (600 by default).
        "API_RATE_LIMIT_PER_MINUTE": inherited.get("API_RATE_LIMIT_PER_MINUTE", "1000000000"),
    }
    log_path = os.path.join(data_dir, "server.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "crm_app.cli", "serve", "--no-migrate"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    base = f"http://127.0.0.1:{port}"
    SERVER_PIDS[base] = process.pid
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"{base}/api/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"the server exited:\n{Path(log_path).read_text()[-3000:]}") from None
                time.sleep(0.1)
        else:
            raise RuntimeError(f"the server did not answer:\n{Path(log_path).read_text()[-3000:]}")
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        errors = [line for line in Path(log_path).read_text().splitlines() if '"ERROR"' in line or "Traceback" in line]
        if errors:
            print(f"server log had {len(errors)} error lines, first: {errors[0][:300]}")
        shutil.rmtree(data_dir, ignore_errors=True)


def login(client: httpx.Client, email: str, password: str) -> int:
    """Log in and wait until the token works; returns how many tries that took.

    The request's unit of work commits in a dependency with yield, which FastAPI (>= 0.118) finishes
    after the response is sent: a token used at once may find no session yet (401)."""
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    response.raise_for_status()
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    for tries in range(1, 100):
        if client.get("/api/auth/me").status_code == 200:
            return tries
        time.sleep(0.01)
    raise RuntimeError("the access token never worked")


def browser_log_in(browser: Any, base: str, email: str, password: str, *, timeout: float = 15_000) -> Any:
    """A new Chromium context (French, Paris time) logged in through the login page; returns its page."""
    page = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
    page.goto(f"{base}/login")
    page.locator('input[name="email"]').fill(email)
    page.locator('input[name="password"]').fill(password)
    page.locator('input[name="password"]').press("Enter")
    page.wait_for_url(lambda url: "/login" not in url, timeout=timeout)
    return page


# --------------------------------------------------------------------------------------------
# List scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    params: dict[str, str]
    check: Callable[[dict[str, Any]], str | None] | None = None
    path: str = "/api/institutions"
    target: tuple[float | None, float | None] | None = LIST_TARGET


def _found(body: dict[str, Any]) -> str | None:
    return None if body.get("items") else "no rows"


def _accented(body: dict[str, Any]) -> str | None:
    names = [item["name"] for item in body.get("items", [])]
    return None if any("Hôpital" in name for name in names) else f"no 'Hôpital' among {names[:3]}"


def _one_finess(finess: str) -> Callable[[dict[str, Any]], str | None]:
    def check(body: dict[str, Any]) -> str | None:
        items = body.get("items", [])
        return None if items and items[0]["finess"] == finess else f"FINESS {finess} not first"

    return check


def pick_values(url: str) -> dict[str, str]:
    """Filter values taken from the data: a typical user, the biggest team, a FINESS..."""
    with psycopg.connect(psycopg_url(url)) as connection:

        def one(query: str) -> str:
            row = connection.execute(query).fetchone()
            if row is None:
                raise SystemExit(f"the database has no data for: {query}")
            return str(row[0])

        return {
            "user": one(
                "SELECT assigned_user_id FROM institutions WHERE assigned_user_id IS NOT NULL "
                "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            ),
            "team": one(
                "SELECT team_id FROM institutions WHERE team_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            ),
            "finess": one(
                "SELECT finess FROM institutions WHERE finess IS NOT NULL AND NOT is_archived "
                "ORDER BY md5(finess) LIMIT 1"
            ),
            "institutions": one("SELECT count(*) FROM institutions"),
            "contacts": one("SELECT count(*) FROM contacts"),
        }


def scenarios(values: dict[str, str]) -> list[Scenario]:
    return [
        Scenario("baseline: GET /api/auth/me", {}, path="/api/auth/me", target=None),
        Scenario("first page (sort name)", {}, _found),
        Scenario("deep page 3900 x 25", {"page": "3900"}, _found),
        Scenario("sort by city", {"sort": "city"}, _found),
        Scenario("sort by -updated", {"sort": "-updated"}, _found),
        Scenario("page_size 100", {"page_size": "100"}, _found),
        Scenario("type=hospital", {"type": "hospital"}, _found),
        Scenario("type=university_hospital", {"type": "university_hospital"}, _found),
        Scenario("status=client", {"status": "client"}, _found),
        Scenario("region=Bretagne", {"region": "Bretagne"}, _found),
        Scenario("city=Lyon", {"city": "Lyon"}, _found),
        Scenario("assigned_user_id", {"assigned_user_id": values["user"]}, _found),
        Scenario("unassigned=1", {"unassigned": "1"}, _found),
        Scenario("team_id", {"team_id": values["team"]}, _found),
        Scenario("tag=Appel d'offres", {"tag": "Appel d'offres"}, _found),
        Scenario("specialty=cardiologie", {"specialty": "cardiologie"}, _found),
        Scenario("beds 200-500", {"beds_min": "200", "beds_max": "500"}, _found),
        Scenario("rooms 5-10", {"rooms_min": "5", "rooms_max": "10"}, _found),
        Scenario("compliance=non_compliant", {"compliance": "non_compliant"}, _found),
        Scenario("archived=all", {"archived": "all"}, _found),
        Scenario("search q=joseph", {"q": "joseph"}, _found),
        Scenario("search q=herriot (rare)", {"q": "herriot"}, _found),
        Scenario("search q=<FINESS>", {"q": values["finess"]}, _one_finess(values["finess"])),
        Scenario("search q=hopital (accents)", {"q": "hopital"}, _accented),
    ]


def run_scenario(client: httpx.Client, scenario: Scenario, *, requests: int, warmup: int) -> Result:
    response = client.get(scenario.path, params=scenario.params)
    if response.status_code != 200:
        return Result(scenario.name, error=f"HTTP {response.status_code}: {response.text[:120]}")
    body = response.json()
    problem = scenario.check(body) if scenario.check else None
    for _ in range(warmup):
        client.get(scenario.path, params=scenario.params)
    samples: list[float] = []
    before = cpu_times()
    for _ in range(requests):
        response = timed(samples, lambda: client.get(scenario.path, params=scenario.params))
        if response.status_code != 200:
            return Result(scenario.name, error=f"HTTP {response.status_code} during the run")
    busy = busy_since(before)
    total = body.get("total")
    # One request at a time keeps about one core busy (client, server and PostgreSQL take turns):
    # more means something else ran on the machine meanwhile.
    return Result(
        scenario.name,
        rows=f"{total:,}" if isinstance(total, int) else "",
        p50=percentile(samples, 50),
        p95=percentile(samples, 95),
        target=scenario.target,
        error=f"check: {problem}" if problem else "",
        note=f"machine {busy:.0%} busy: other processes or a parallel plan"
        if busy * (os.cpu_count() or 1) > NOISY
        else "",
    )


# --------------------------------------------------------------------------------------------
# Page render in Chromium


def institutions_page_exists() -> bool:
    """Whether a screen is registered at /institutions (every path answers with the shell, so asking
    the server would not tell)."""
    pattern = re.compile(r"""(app_page|ui\.page)\(\s*["']/institutions["']""")
    return any(pattern.search(path.read_text(encoding="utf-8")) for path in (REPO / "pages").rglob("*.py"))


#: Installed in every page of the measuring browser: when the first table row enters the document,
#: and when the frame that shows it has been drawn (a timer set in the next animation frame runs once
#: that frame is produced); and the time of the last click. Times are `performance.now()`, from the
#: navigation's start, so a full load's figure counts the request, and a click's is taken from the
#: click event's own time stamp.
_IN_PAGE_TIMING = """(() => {
  const t = (window.__opexTiming = {});
  addEventListener("click", (event) => { t.click = event.timeStamp; t.row = t.painted = undefined; }, true);
  new MutationObserver(() => {
    if (t.row === undefined && document.querySelector("tbody tr")) {
      t.row = performance.now();
      requestAnimationFrame(() => setTimeout(() => { t.painted = performance.now(); }));
    }
  }).observe(document, { subtree: true, childList: true });
})();"""


def _painted(page: Any) -> dict[str, float]:
    page.wait_for_function("() => window.__opexTiming && window.__opexTiming.painted !== undefined")
    timing: dict[str, float] = page.evaluate("window.__opexTiming")
    return timing


def measure_page(base: str, *, loads: int, email: str, password: str) -> list[Result]:
    """Full loads of /institutions (until the first table row is visible), then in-app navigation to it
    from the dashboard through the navigation drawer (the shell stays, only the content swaps).

    Each is timed twice. By the driver: from `goto` or `click` until Playwright sees the row visible;
    that includes Playwright's own work (a click waits for the link to be stable over two frames and
    checks what it hits; visibility is polled). In the page: from the navigation's start, or from the
    click event, until the frame showing the first row is drawn; what the user waits for."""
    name, in_app = "page ready: /institutions full load", "page ready: drawer link from dashboard"
    if not institutions_page_exists():
        return [Result("page render", note="skipped (no /institutions page yet)")]
    if not os.path.exists(CHROMIUM):
        return [Result("page render", note=f"skipped ({CHROMIUM} is missing)")]
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    full: list[float] = []
    shell: list[float] = []
    navigation: list[float] = []
    full_painted: list[float] = []
    navigation_painted: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser_log_in(browser, base, email, password)
            page.context.add_init_script(script=_IN_PAGE_TIMING)
            first_row, header = page.locator("tbody tr").first, page.locator(".opex-header").first
            shown = ""
            for index in range(loads + 2):  # the first two warm the server and the browser cache
                started = time.perf_counter()
                page.goto(f"{base}/institutions", wait_until="commit")
                try:
                    header.wait_for(state="visible", timeout=15_000)
                    header_at = time.perf_counter()
                    first_row.wait_for(state="visible", timeout=15_000)
                except PlaywrightError:
                    return [Result(name, error="no table row within 15 s")]
                if index >= 2:
                    full.append((time.perf_counter() - started) * 1000)
                    shell.append((header_at - started) * 1000)
                    full_painted.append(_painted(page)["painted"])
            shown = str(page.locator("tbody tr").count())
            link = page.locator('.opex-drawer nav a[href="/institutions"]').first
            for index in range(loads + 2):
                page.goto(f"{base}/", wait_until="load")
                link.wait_for(state="visible", timeout=15_000)
                if first_row.is_visible():
                    break  # the dashboard shows a table: the measure would end at once
                started = time.perf_counter()
                link.click()
                first_row.wait_for(state="visible", timeout=15_000)
                if index >= 2:
                    navigation.append((time.perf_counter() - started) * 1000)
                    timing = _painted(page)
                    navigation_painted.append(timing["painted"] - timing["click"])
        finally:
            browser.close()

    def timed(label: str, samples: list[float], note: str) -> Result:
        return Result(
            label, rows=shown, p50=percentile(samples, 50), p95=percentile(samples, 95), target=PAGE_TARGET, note=note
        )

    shell_note = f"shell visible at p50 {percentile(shell, 50):.0f} ms"
    results = [
        timed(name, full, f"{loads} loads, timed by the driver; {shell_note}"),
        timed(name + " (in the page)", full_painted, "from the navigation's start to the frame showing the first row"),
    ]
    if navigation:
        results += [
            timed(in_app, navigation, f"{loads} clicks, timed by the driver"),
            timed(
                in_app + " (in the page)", navigation_painted, "from the click event to the frame showing the first row"
            ),
        ]
    return results


# --------------------------------------------------------------------------------------------
# In-process: global search, list SQL breakdown, import


def bench_actor() -> Any:
    from sqlmodel import select

    from crm_app.platform.db import unit_of_work
    from crm_app.platform.models.people import User
    from crm_app.platform.permissions import actor_from

    with unit_of_work() as session:
        user = session.exec(select(User).where(User.email == BENCH_EMAIL)).one()
        return actor_from(user)


def measure_global_search(actor: Any, terms: Sequence[str], *, runs: int) -> list[Result]:
    from crm_app import bootstrap
    from crm_app.platform.db import unit_of_work
    from crm_app.platform.search import search_everything

    bootstrap.wire()

    results = []
    for term in terms:
        samples: list[float] = []
        hits = 0
        for index in range(runs + 3):
            with unit_of_work() as session:
                started = time.perf_counter()
                hits = sum(len(group.hits) for group in search_everything(session, actor, term))
                if index >= 3:
                    samples.append((time.perf_counter() - started) * 1000)
        results.append(
            Result(
                f"global search {term!r}",
                rows=str(hits),
                p50=percentile(samples, 50),
                p95=percentile(samples, 95),
                target=SEARCH_TARGET,
            )
        )
    return results


@dataclass
class Statement:
    sql: str
    parameters: Any
    ms: list[float] = field(default_factory=list)


def service_breakdown(actor: Any, scenario: Scenario, *, runs: int = 15, explain: bool = False) -> list[str]:
    """Where the time of one list request goes inside the service: each SQL statement's time measured
    around the driver's execute, median of the first 5 runs and of the last 5 (optionally EXPLAIN ANALYZE).

    The two differ when a plan changes once the statement is prepared: psycopg prepares a statement
    at its 5th execution, and PostgreSQL may then switch to a generic plan that ignores the values."""
    from sqlalchemy import event

    from crm_app.institutions.service import InstitutionQuery, list_institutions
    from crm_app.platform.db import get_engine, unit_of_work
    from crm_app.platform.paging import PageRequest

    engine = get_engine()
    statements: dict[int, Statement] = {}
    order: list[int] = []
    state: dict[str, float] = {}
    position = [0]

    def before(*_: Any) -> None:
        state["t"] = time.perf_counter()

    def after(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        index = position[0]
        position[0] += 1
        if index not in statements:
            statements[index] = Statement(statement, parameters)
            order.append(index)
        statements[index].ms.append((time.perf_counter() - state["t"]) * 1000)

    params: dict[str, str | list[str]] = dict(scenario.params)
    page = int(str(params.pop("page", "1")))
    page_size = int(str(params.pop("page_size", "25")))
    query = InstitutionQuery.from_params(params)
    totals: list[float] = []
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        for _ in range(runs):
            position[0] = 0
            with unit_of_work() as session:
                started = time.perf_counter()
                list_institutions(session, actor, query, PageRequest(page, page_size))
                totals.append((time.perf_counter() - started) * 1000)
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    first, last = percentile(totals[:5], 50), percentile(totals[-5:], 50)
    lines = [
        f"  {scenario.name}: service in-process {first:.1f} ms (first runs), {last:.1f} ms (last runs); "
        "SQL statements, first runs -> last runs:"
    ]
    for index in order:
        statement = statements[index]
        before_ms, after_ms = percentile(statement.ms[:5], 50), percentile(statement.ms[-5:], 50)
        flag = "  <- slower once prepared (generic plan)" if after_ms > 2 * before_ms + 1 else ""
        lines.append(f"    {before_ms:6.1f} -> {after_ms:6.1f} ms  {' '.join(statement.sql.split())[:120]}{flag}")
    if explain:
        with engine.connect() as connection:
            for index in order:
                statement = statements[index]
                plan_rows = connection.exec_driver_sql(
                    f"EXPLAIN (ANALYZE, BUFFERS) {statement.sql}", statement.parameters
                ).all()
                lines.append("      " + "\n      ".join(row[0] for row in plan_rows))
    return lines


class _RollBack(Exception):
    """Raised to leave the unit of work without committing."""


def import_csv(url: str, rows: int, seed: int) -> bytes:
    """A French CSV (`;`, UTF-8 with BOM, the sample file's headers) of new institutions: identifiers
    that no institution of the database holds yet."""
    with psycopg.connect(psycopg_url(url)) as connection:
        taken = {
            value
            for (value,) in connection.execute(
                "SELECT finess FROM institutions WHERE finess IS NOT NULL UNION ALL "
                "SELECT siret FROM institutions WHERE siret IS NOT NULL"
            )
        }
    header = SAMPLE_CSV.read_text(encoding="utf-8-sig").splitlines()[0] if SAMPLE_CSV.exists() else SAMPLE_HEADERS
    rng = random.Random(seed + 1)
    someone = uuid.uuid4()
    staff = Staff(
        someone,
        {t: someone for t in TEAM_REGIONS},
        {t: [someone] for t in TEAM_REGIONS},
        {t: [1.0] for t in TEAM_REGIONS},
        [someone],
        {},
        0,
    )
    types, counts = plan(rng, rows, rows)
    factory = Factory(rng, staff, types, [max(1, c) for c in counts], now=datetime.now(UTC))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header.split(";"))
    for index in range(rows):
        built = factory.build(index)
        i = dict(zip(INSTITUTION_COLUMNS, built.institution, strict=True))
        contact = dict(zip(CONTACT_COLUMNS, built.contacts[0], strict=True))
        finess, siret = i["finess"], i["siret"]
        while finess is not None and finess in taken:
            finess = f"{finess[:2]}{rng.randrange(10**7):07d}"
        while siret is not None and siret in taken:
            body = f"{rng.randrange(10**12, 10**13)}"
            siret = body + luhn_check_digit(body)
        taken.update(value for value in (finess, siret) if value)
        beds, rooms = built.profile[1], built.profile[2]
        specialties = ", ".join(value for _id, kind, value in built.labels if kind == "specialty")
        revenue = f"{rng.uniform(1_000, 900_000):.2f}".replace(".", ",")
        writer.writerow(
            [
                i["name"],
                TYPE_LABELS_FR[i["type"]],
                finess or "",
                siret or "",
                f"419{index:06d}",
                i["street"] or "",
                i["postal_code"],
                i["city"],
                i["region"],
                national_phone(i["phone"]),
                "" if beds is None else beds,
                "" if rooms is None else rooms,
                specialties,
                contact["first_name"] or "",
                contact["last_name"],
                contact["email"] or "",
                contact["title"] or "",
                revenue,
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def national_phone(phone: str | None) -> str:
    """ "+33 1 42 34 56 78" as a French file writes it: "01 42 34 56 78"."""
    if not phone:
        return ""
    if phone.startswith("+33 "):
        return "0" + phone[4:]
    _code, prefix, rest = phone.split(" ", 2)  # overseas: "+262 262 31 23 45" → "0262 31 23 45"
    return f"0{prefix} {rest}"


def measure_import(url: str, actor: Any, *, rows: int, seed: int) -> list[Result]:
    if not (REPO / "crm_app" / "services" / "imports.py").exists():
        return [Result("import", note="skipped (no import service yet)")]
    from crm_app.institutions import imports
    from crm_app.platform.db import unit_of_work

    content = import_csv(url, rows, seed)
    results = []
    try:
        for step in ("preview_import", "run_import"):
            function = getattr(imports, step)
            outcome: list[Any] = []
            started = time.perf_counter()
            with contextlib.suppress(_RollBack), unit_of_work() as session:
                outcome.append(function(session, actor, content))
                session.flush()
                elapsed = time.perf_counter() - started
                raise _RollBack
            value = outcome[0]
            if step == "preview_import":
                note = f"{elapsed:.1f} s; " + ", ".join(
                    f"{status.value} {value.count(status):,}" for status in imports.RowStatus
                )
            else:
                note = (
                    f"{elapsed:.1f} s; created {value.created:,}, merged {value.merged:,}, "
                    f"skipped {value.skipped:,}, rejected {value.rejected:,}; rolled back"
                )
            results.append(
                Result(
                    f"import {rows:,} rows: {step}",
                    rows=f"{rows:,}",
                    p50=rows / elapsed,
                    p95=rows / elapsed,
                    target=(IMPORT_TARGET, None) if step == "run_import" else None,
                    unit="rows/s",
                    note=note,
                )
            )
    except (AttributeError, TypeError) as exc:  # the service is being written: report, do not crash
        results.append(Result("import", error=f"{type(exc).__name__}: {exc}"))
    return results


# --------------------------------------------------------------------------------------------
# Machine


def cpu_times() -> tuple[int, int]:
    """(all, idle) CPU time of the machine so far, in clock ticks (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait


def busy_since(before: tuple[int, int]) -> float:
    """The share of the machine's CPU time spent busy since `before` (0..1 over all cores)."""
    total_after, idle_after = cpu_times()
    total = max(1, total_after - before[0])
    return 1 - (idle_after - before[1]) / total


def cpu_busy(seconds: float) -> float:
    before = cpu_times()
    time.sleep(seconds)
    return busy_since(before)


def wait_for_idle(limit: float, *, threshold: float = 0.1, window: float = 5.0) -> str:
    """Wait (up to `limit` seconds) until other processes leave the CPUs alone: figures taken while
    a test suite runs next to the benchmark say little."""
    deadline = time.monotonic() + limit
    busy = cpu_busy(window)
    while busy > threshold and time.monotonic() < deadline:
        print(f"  machine busy ({busy:.0%} CPU over {window:.0f} s): waiting", flush=True)
        busy = cpu_busy(window)
    return f"{busy:.0%} CPU busy before the start"


def machine(url: str) -> list[str]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    with psycopg.connect(psycopg_url(url)) as connection:
        version = connection.execute("SHOW server_version").fetchone()
        settings = connection.execute(
            "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings "
            "WHERE name IN ('shared_buffers', 'work_mem', 'jit', 'random_page_cost', 'effective_cache_size')"
        ).fetchone()
    return [
        f"machine: {os.cpu_count()} cores ({model}){memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        f"PostgreSQL {version[0] if version else '?'} on 127.0.0.1 ({settings[0] if settings else ''})",
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per list scenario")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests before each scenario")
    parser.add_argument("--page-loads", type=int, default=20)
    parser.add_argument("--search-runs", type=int, default=50)
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--only", help="run only the list scenarios whose name contains this text")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-import", action="store_true")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print EXPLAIN ANALYZE of the SQL of the list scenarios that miss the target",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to this long for the machine to be idle (other processes under 10%% CPU)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--email", default=BENCH_EMAIL)
    parser.add_argument("--password", default=BENCH_PASSWORD)
    return parser.parse_args(argv)


@dataclass
class ServerRun:
    lists: list[Result] = field(default_factory=list)
    pages: list[Result] = field(default_factory=list)
    late_logins: int = 0


def run_against_server(args: argparse.Namespace, selected: Sequence[Scenario]) -> ServerRun:
    """The HTTP scenarios, then the browser, against one server process."""
    run = ServerRun()
    with running_server(args.database_url) as base:
        with httpx.Client(base_url=base, timeout=60) as client:
            for scenario in selected:
                # A new token per scenario: access tokens last 15 minutes.
                run.late_logins += login(client, args.email, args.password) > 1
                result = run_scenario(client, scenario, requests=args.requests, warmup=args.warmup)
                run.lists.append(result)
                print(
                    f"  {result.name}: p50 {result.p50 or 0:.1f} ms, p95 {result.p95 or 0:.1f} ms "
                    f"{result.error} {result.note}",
                    flush=True,
                )
        if not args.no_browser and not args.only:
            run.pages = measure_page(base, loads=args.page_loads, email=args.email, password=args.password)
    return run


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    idle = wait_for_idle(args.wait_idle) if args.wait_idle else ""
    start_load = ", ".join(f"{value:.2f}" for value in os.getloadavg()) + (f" ({idle})" if idle else "")
    configure_environment(args.database_url)
    # Every run starts from the same state: no dead rows left by an earlier run's rolled-back import
    # (this server may run without autovacuum), fresh statistics and visibility map.
    vacuumed = vacuum_analyze(args.database_url)
    values = pick_values(args.database_url)
    print(
        f"OPEx CRM benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {int(values['institutions']):,} "
        f"institutions, {int(values['contacts']):,} contacts; {args.requests} requests per scenario after "
        f"{args.warmup} warm-up, sequential, keep-alive; VACUUM (ANALYZE) first ({vacuumed:.1f} s)\n"
    )
    selected = [s for s in scenarios(values) if not args.only or args.only in s.name]
    run = run_against_server(args, selected)
    actor = bench_actor()
    others: list[Result] = []
    if not args.only:
        others += measure_global_search(
            actor, ["ma", "mar", "martin", "hopital", "saint-joseph", values["finess"]], runs=args.search_runs
        )
        if not args.no_import:
            others += measure_import(args.database_url, actor, rows=args.import_rows, seed=args.seed)
            vacuum_analyze(args.database_url)  # the rolled-back rows are dead rows until vacuumed
    print()
    print_table(run.lists + run.pages + others)
    print()
    print("\n".join(machine(args.database_url)))
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average at the end (1, 5, 15 min): {load}; at the start: {start_load}")
    if run.late_logins:
        print(
            f"note: {run.late_logins} of {len(selected)} fresh access tokens were refused (401) on first use: "
            "the login's commit lands after its response"
        )
    missed = [s for s, r in zip(selected, run.lists, strict=True) if r.verdict == "FAIL"]
    if missed:
        print("\nwhere the time goes in the list scenarios that missed the target (in-process, same SQL):")
        for scenario in missed:
            print("\n".join(service_breakdown(actor, scenario, explain=args.explain)))


if __name__ == "__main__":
    main()
