"""Benchmark of the live notification path: assign a task in one session, see the bell change in
another, with many tabs connected to one server process.

Creates its own database (dropped and recreated), a team with a manager and `--clients` sales reps,
starts `opex-crm serve` on it and opens one tab per rep on the dashboard, with its bell:
`--browser-tabs` of them are Chromium tabs, the others scripted tabs (`scripted_tabs.py`: the same
page and Socket.IO connection on the server, no rendering), since 300 Chromium tabs do not fit in
the machine's memory. Every rep logs in through the login page in Chromium.

The manager then assigns tasks over the REST API, one at a time, alternately to a rep with a
Chromium tab and to a rep with a scripted tab, each picked at random. Latency = the moment the
change of the bell's label is seen - the moment the API request was sent (same machine, same clock):
in Chromium by a MutationObserver (after rendering), in a scripted tab when the websocket message
arrives. Also prints the server's resident memory before the tabs and with them all open.

    .venv/bin/python bench/notifications.py --database-url postgresql://postgres@127.0.0.1:5432/opex_bench_live
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from benchmark import CHROMIUM, CHROMIUM_ARGS, browser_log_in, percentile, running_server
from generate import configure_environment, prepare_database
from scripted_tabs import ScriptedTabs

PASSWORD = "Mesure-Live-2026"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/opex_bench_live"
TARGET_P95_MS = 250.0

#: Records every change of the bell's count, with the browser's clock (ms since the epoch).
OBSERVER = """() => {
  window.__bell = [];
  const watch = () => {
    const button = document.querySelector('[aria-label^="Notifications"]');
    if (!button) { setTimeout(watch, 50); return; }
    new MutationObserver(() => window.__bell.push([Date.now(), button.getAttribute('aria-label')]))
      .observe(button, {attributes: true, attributeFilter: ['aria-label']});
  };
  watch();
}"""


def create_people(clients: int) -> tuple[str, list[tuple[str, str]]]:
    """A team with its manager and `clients` reps, through the services; returns the manager's email
    and (id, email) of each rep."""
    from crm_app.accounts import teams, users
    from crm_app.platform.db import unit_of_work
    from crm_app.platform.models.people import Role
    from crm_app.platform.permissions import SYSTEM_ACTOR

    reps: list[tuple[str, str]] = []
    with unit_of_work() as session:
        team = teams.create_team(session, SYSTEM_ACTOR, "Live")
        users.create_user(
            session,
            SYSTEM_ACTOR,
            email="manager@live.bench",
            full_name="Manon Manager",
            password=PASSWORD,
            role=Role.MANAGER,
            team_id=team.id,
        )
        for index in range(clients):
            user = users.create_user(
                session,
                SYSTEM_ACTOR,
                email=f"rep{index:03d}@live.bench",
                full_name=f"Rep {index:03d}",
                password=PASSWORD,
                role=Role.USER,
                team_id=team.id,
            )
            reps.append((str(user.id), user.email))
    return "manager@live.bench", reps


def rss_kib(pid: int) -> int:
    """Resident memory of the process and its children (the server runs in one process)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def log_in(browser: Any, base: str, email: str) -> Any:
    """A new Chromium context logged in as `email` through the login page; returns its page."""
    page = browser_log_in(browser, base, email, PASSWORD, timeout=30_000)
    page.locator('[aria-label^="Notifications"]').wait_for(timeout=30_000)
    return page


def open_browser_tabs(browser: Any, base: str, reps: list[tuple[str, str]]) -> dict[str, Any]:
    """One Chromium tab per rep, logged in, watching its bell."""
    pages: dict[str, Any] = {}
    for rep_id, email in reps:
        page = log_in(browser, base, email)
        page.evaluate(OBSERVER)
        pages[rep_id] = page
    return pages


def open_scripted_tabs(browser: Any, base: str, reps: list[tuple[str, str]]) -> ScriptedTabs:
    """One scripted tab per rep on the dashboard, with the cookies of a login in Chromium."""
    sessions = []
    for rep_id, email in reps:
        page = log_in(browser, base, email)
        sessions.append((rep_id, page.context.cookies()))
        page.context.close()  # its screen is left to the server's reconnect timeout, as a closed tab's
    tabs = ScriptedTabs()
    tabs.open(base, "/", sessions)
    return tabs


def assign(api: httpx.Client, rep_id: str, index: int) -> float:
    """Assign a task to the rep over REST; returns when the request was sent (ms since the epoch)."""
    sent_ms = time.time() * 1000
    response = api.post("/api/tasks", json={"title": f"Relancer le devis {index}", "assignee_id": rep_id})
    if response.status_code != 201:
        sys.exit(f"assigning failed: {response.status_code} {response.text[:200]}")
    return sent_ms


def assign_and_watch(
    api: httpx.Client, pages: dict[str, Any], scripted: ScriptedTabs, assignments: int
) -> tuple[list[float], list[float], int]:
    """Assign tasks one at a time, alternately to a rep with a Chromium tab and to one with a
    scripted tab, picked at random; the latencies of the bell's updates in each kind of tab."""
    rng = random.Random(42)
    in_browser: list[float] = []
    in_script: list[float] = []
    missed = 0
    by_rep = {tab.name: tab for tab in scripted.tabs}
    for index in range(assignments):
        if (index % 2 == 0 and pages) or not by_rep:
            rep_id = rng.choice(list(pages))
            page = pages[rep_id]
            seen = page.evaluate("window.__bell.length")
            sent_ms = assign(api, rep_id, index)
            try:
                page.wait_for_function(f"window.__bell.length > {seen}", timeout=5000, polling=10)
            except Exception:
                missed += 1
                continue
            in_browser.append(page.evaluate(f"window.__bell[{seen}][0]") - sent_ms)
        else:
            tab = by_rep[rng.choice(list(by_rep))]
            seen = len(tab.bell)
            sent_ms = assign(api, tab.name, index)
            deadline = time.monotonic() + 5
            while len(tab.bell) <= seen and time.monotonic() < deadline:
                time.sleep(0.002)
            if len(tab.bell) <= seen:
                missed += 1
                continue
            in_script.append(tab.bell[seen][0] - sent_ms)
    return in_browser, in_script, missed


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--clients", type=int, default=300, help="tabs in all, one rep each")
    parser.add_argument("--browser-tabs", type=int, default=10, help="of which Chromium tabs")
    parser.add_argument("--assignments", type=int, default=200)
    args = parser.parse_args(argv)

    configure_environment(args.database_url)
    prepare_database(args.database_url, replace=True)
    manager_email, reps = create_people(args.clients)
    browser_reps, scripted_reps = reps[: args.browser_tabs], reps[args.browser_tabs :]
    from playwright.sync_api import sync_playwright

    with running_server(args.database_url) as base, sync_playwright() as playwright:
        server_pid = server_process_id(base)
        api = httpx.Client(base_url=base, timeout=30)
        token = api.post("/api/auth/login", json={"email": manager_email, "password": PASSWORD}).json()
        api.headers["Authorization"] = f"Bearer {token['access_token']}"
        before_kib = rss_kib(server_pid)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        started = time.perf_counter()
        scripted = open_scripted_tabs(browser, base, scripted_reps)
        pages = open_browser_tabs(browser, base, browser_reps)
        connect_s = time.perf_counter() - started
        time.sleep(15)  # longer than NiceGUI's reconnect timeout: the logins' closed screens are gone
        with_clients_kib = rss_kib(server_pid)
        in_browser, in_script, missed = assign_and_watch(api, pages, scripted, args.assignments)
        scripted.close()
        browser.close()

    tabs = len(reps)
    per_client = (with_clients_kib - before_kib) / max(1, tabs)
    every = in_browser + in_script
    passed = every and not missed and percentile(every, 95) <= TARGET_P95_MS
    print(
        f"OPEx CRM live notifications: {tabs} tabs on one server process ({len(pages)} in Chromium, "
        f"{len(scripted.tabs)} scripted), {args.assignments} assignments"
    )
    print(f"  tabs connected in {connect_s:.0f} s (each rep logged in through the login page)")
    for kind, latencies in (("a Chromium tab (rendered)", in_browser), ("a scripted tab (message arrived)", in_script)):
        if latencies:
            print(
                f"  assign (REST) -> bell changed in {kind}: p50 {percentile(latencies, 50):.0f} ms, "
                f"p95 {percentile(latencies, 95):.0f} ms, max {max(latencies):.0f} ms, n {len(latencies)}"
            )
    print(
        f"  all: p95 {percentile(every, 95) if every else float('nan'):.0f} ms, missed {missed}"
        f"  (target p95 <= {TARGET_P95_MS:.0f} ms: {'PASS' if passed else 'FAIL'})"
    )
    print(
        f"  server memory: {before_kib / 1024:.0f} MiB before the tabs, {with_clients_kib / 1024:.0f} MiB with "
        f"{tabs} tabs: {per_client:.0f} KiB per connected tab"
    )


def server_process_id(base: str) -> int:
    """The pid of the process listening on the server's port (the one `running_server` started)."""
    port = base.rsplit(":", 1)[1]
    inode_by_port = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.split(":")[1], 16) == int(port):
            inode_by_port[inode] = True
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inode_by_port:
                    return int(pid)
        except OSError:
            continue
    raise RuntimeError("the server process was not found")


if __name__ == "__main__":
    main()
