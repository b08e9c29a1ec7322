"""What a connected browser tab costs the server: its memory, on the institutions list (issue 20).

    python bench/tabs.py [--database-url postgresql://postgres@127.0.0.1:5432/opex_bench] [--tabs 30]

Starts `opex-crm serve` (one process) on a database made by `generate.py`, logs in with Chromium, opens
a few warm-up tabs on `/institutions`, then `--tabs` more, each until its first table row shows, and
reads the server's resident memory (VmRSS of its process) before and after: the difference divided by
the tabs is a tab's cost. It then closes them and reads the memory again after NiceGUI's grace period
for a tab that went away (`reconnect_timeout`, 3 s) and a little more: what a closed tab still holds.
Then it opens as many tabs again: what they add shows whether the closed tabs' memory was reused.

Resident memory is what the operator pays, fragmentation and the allocator's arenas included, so it is
what the target (issue 20: 400 KiB a tab at most) is measured in. Python rarely gives memory back to the
system: "still held after closing" is memory the process reuses for the next tabs, not a leak by itself.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from benchmark import CHROMIUM, CHROMIUM_ARGS, SERVER_PIDS, browser_log_in, running_server
from generate import BENCH_EMAIL, BENCH_PASSWORD, DEFAULT_URL

TARGET_KIB = 400
WARM_UP_TABS = 5


def rss_kib(pid: int) -> int:
    """The resident memory of a process, in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def settled_rss_kib(pid: int, *, seconds: float = 2.0) -> int:
    """The resident memory once the server is idle: the median of a few readings over `seconds`."""
    readings = []
    for _ in range(5):
        time.sleep(seconds / 5)
        readings.append(rss_kib(pid))
    return int(statistics.median(readings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--tabs", type=int, default=30, help="tabs measured, after the warm-up ones")
    parser.add_argument("--after-close", type=float, default=10.0, help="seconds to wait once the tabs are closed")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with running_server(args.database_url) as base, sync_playwright() as playwright:
        pid = SERVER_PIDS[base]
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser_log_in(browser, base, BENCH_EMAIL, BENCH_PASSWORD, timeout=30_000).context

            def open_tab() -> object:
                page = context.new_page()
                page.goto(f"{base}/institutions")
                page.locator("tbody tr").first.wait_for(state="visible", timeout=30_000)
                return page

            warm = [open_tab() for _ in range(WARM_UP_TABS)]
            before = settled_rss_kib(pid)
            started = time.perf_counter()
            tabs = [open_tab() for _ in range(args.tabs)]
            opened_in = time.perf_counter() - started
            after = settled_rss_kib(pid)
            for page in tabs:
                page.close()  # type: ignore[attr-defined]
            time.sleep(args.after_close)
            closed = settled_rss_kib(pid)
            # As many tabs again: memory the closed ones gave back to the process is reused, a leak is not.
            again = [open_tab() for _ in range(args.tabs)]
            reopened = settled_rss_kib(pid)
            del warm, again
        finally:
            browser.close()

    per_tab = (after - before) / args.tabs
    held = (closed - before) / args.tabs
    verdict = "PASS" if per_tab <= TARGET_KIB else "FAIL"
    print(f"OPEx CRM tabs benchmark: {args.tabs} tabs on /institutions after {WARM_UP_TABS} warm-up tabs")
    print(f"server memory before {before:,} KiB, with the tabs {after:,} KiB")
    print(f"{args.after_close:.0f} s after closing them {closed:,} KiB")
    print(f"opening the tabs took {opened_in:.1f} s ({opened_in / args.tabs * 1000:.0f} ms a tab, one at a time)")
    print(f"memory per connected tab: {per_tab:,.0f} KiB (target <= {TARGET_KIB} KiB) {verdict}")
    print(f"still held per tab after closing: {held:,.0f} KiB")
    print(f"opening {args.tabs} tabs again then added {(reopened - closed) / args.tabs:,.0f} KiB a tab (0: reused)")


if __name__ == "__main__":
    main()
