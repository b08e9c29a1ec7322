"""Benchmark the dashboard and the pipeline board on a generated sales database (see bench/README.md).

    python bench/analytics.py --database-url postgresql://postgres@127.0.0.1:5432/opex_bench_analytics

Starts `opex-crm serve` on a free local port against that database (100,000 institutions, 50,000
opportunities, 500,000 activities, 200,000 quotes and invoices: `generate.py` then
`generate_sales.py`), logs in as the benchmark's super administrator and times over HTTP, end to
end: `GET /api/analytics/dashboard` for each period at scope all, the pipeline, forecast and
receivables, and a board column's first page; then the dashboard in Chromium, reached by in-app
navigation from another screen. Prints p50/p95 against the issue's targets.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
from benchmark import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Result,
    browser_log_in,
    login,
    machine,
    percentile,
    print_table,
    running_server,
    timed,
    wait_for_idle,
)
from generate import BENCH_EMAIL, BENCH_PASSWORD, configure_environment, vacuum_analyze

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/opex_bench_analytics"
DASHBOARD_TARGET = (60.0, 150.0)  # GET /api/analytics/dashboard, scope all
COLUMN_TARGET = (15.0, None)  # a board column's first page
PAGE_TARGET = (400.0, None)  # the dashboard ready in Chromium by in-app navigation
#: A chart drawn with its figures: the charts are on the screen (empty) before the figures come, so a
#: canvas alone says nothing. `getElement` is NiceGUI's (the chart element's Vue component), `chart` its
#: ECharts instance, which draws as `setOption` returns.
CHART_DRAWN = """() => [...document.querySelectorAll('.dashboard-chart')].some(
    (element) => (getElement(element)?.chart?.getOption()?.series ?? []).length > 0)"""


def http_scenarios() -> list[tuple[str, str, dict[str, str], tuple[float | None, float | None] | None]]:
    """(name, path, query, target) of each timed request."""
    dashboard = [
        (f"dashboard {period}, scope all", "/api/analytics/dashboard", {"period": period, "scope": "all"})
        for period in ("week", "month", "quarter", "year")
    ]
    return [
        *((name, path, query, DASHBOARD_TARGET) for name, path, query in dashboard),
        ("pipeline by stage, scope all", "/api/analytics/pipeline", {"scope": "all"}, None),
        ("forecast 6 months, scope all", "/api/analytics/forecast", {"months": "6", "scope": "all"}, None),
        ("receivables ageing, scope all", "/api/analytics/receivables", {"scope": "all"}, None),
        *(
            (
                f"board column {stage}: first page",
                f"/api/opportunities/board/{stage}",
                {"page_size": "20"},
                COLUMN_TARGET,
            )
            for stage in ("prospecting", "negotiation", "won")
        ),
        *(
            (
                f"list filtered on {stage}: first page and sums",
                "/api/opportunities",
                {"stage": stage, "page_size": "20"},
                None,
            )
            for stage in ("prospecting", "won")
        ),
    ]


def measure_http(client: httpx.Client, *, requests: int, warmup: int) -> list[Result]:
    results = []
    for name, path, query, target in http_scenarios():
        samples: list[float] = []
        error = ""
        for index in range(warmup + requests):
            response = timed(samples, lambda path=path, query=query: client.get(path, params=query))
            if response.status_code != 200:
                error = f"HTTP {response.status_code}: {response.text[:120]}"
                break
            if index < warmup:
                samples.pop()
        result = Result(
            name,
            p50=percentile(samples, 50) if samples else None,
            p95=percentile(samples, 95) if samples else None,
            target=target,
            error=error,
            note=f"{requests} requests",
        )
        print(f"  {name}: p50 {result.p50 or 0:.1f} ms, p95 {result.p95 or 0:.1f} ms {error}", flush=True)
        results.append(result)
    return results


def measure_dashboard_page(base: str, *, loads: int) -> list[Result]:
    """From the institutions list, the drawer's dashboard link, until the KPI cards show figures."""
    if not os.path.exists(CHROMIUM):
        return [Result("dashboard page", note=f"skipped ({CHROMIUM} is missing)")]
    from playwright.sync_api import sync_playwright

    navigation: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser_log_in(browser, base, BENCH_EMAIL, BENCH_PASSWORD)
            figure = page.locator("[data-kpi]").first
            link = page.locator('.opex-drawer nav a[href="/"]').first
            for index in range(loads + 2):  # the first two warm the server and the browser cache
                page.goto(f"{base}/institutions", wait_until="load")
                page.locator("tbody tr").first.wait_for(state="visible", timeout=15_000)
                started = time.perf_counter()
                link.click()
                figure.wait_for(state="visible", timeout=15_000)
                page.wait_for_function(CHART_DRAWN, timeout=15_000)
                if index >= 2:
                    navigation.append((time.perf_counter() - started) * 1000)
        finally:
            browser.close()
    return [
        Result(
            "dashboard ready: drawer link from the list",
            p50=percentile(navigation, 50),
            p95=percentile(navigation, 95),
            target=PAGE_TARGET,
            note=f"{loads} clicks, figures and a chart drawn with them",
        )
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--page-loads", type=int, default=15)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    idle = wait_for_idle(args.wait_idle) if args.wait_idle else ""
    configure_environment(args.database_url)
    vacuum_analyze(args.database_url)
    print(f"OPEx CRM analytics benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC {idle}", flush=True)
    results: list[Result] = []
    with running_server(args.database_url) as base:
        with httpx.Client(base_url=base, timeout=60) as client:
            login(client, BENCH_EMAIL, BENCH_PASSWORD)
            results += measure_http(client, requests=args.requests, warmup=args.warmup)
        if not args.no_browser:
            results += measure_dashboard_page(base, loads=args.page_loads)
    print()
    print_table(results)
    print()
    print("\n".join(machine(args.database_url)))


if __name__ == "__main__":
    main()
