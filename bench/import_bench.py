"""Import throughput alone: the benchmark's 10,000-row file through `preview_import` then `run_import`
(the wizard's order), each in a unit of work that is rolled back, N runs, median.

    .venv/bin/python bench/import_bench.py [--database-url URL] [--rows 10000] [--runs 3] [--cold]

`--cold` also times `run_import` on a file that was not previewed first (the REST route's case).
Nothing is left in the database: every call is rolled back. Besides rows per second of each call, it
prints the CPU seconds the call cost (this process and its PostgreSQL backend, read from /proc: the
server must be on this machine), which a busy shared machine changes less than the elapsed time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark import _RollBack, bench_actor, import_csv
from generate import DEFAULT_URL, configure_environment, vacuum_analyze


def backend_cpu(pid: int) -> float:
    """CPU seconds used so far by a PostgreSQL backend of this machine (/proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


CPU: dict[str, list[float]] = {}


def timed_call(label: str, function: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """Seconds of one call in a unit of work that is rolled back; its CPU seconds (this process, and
    the database backend) are noted in CPU[label]: they vary less than the time on a shared machine."""
    import sqlalchemy as sa

    from crm_app.platform.db import unit_of_work

    outcome: list[Any] = []
    with contextlib.suppress(_RollBack), unit_of_work() as session:
        pid = session.connection().execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        started, cpu, server = time.perf_counter(), time.process_time(), backend_cpu(pid)
        outcome.append(function(session, *args, **kwargs))
        session.flush()
        elapsed = time.perf_counter() - started
        CPU.setdefault(label, []).append(time.process_time() - cpu + backend_cpu(pid) - server)
        raise _RollBack
    return elapsed, outcome[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cold", action="store_true", help="also run_import without a preview first")
    args = parser.parse_args()
    configure_environment(args.database_url)
    from crm_app.institutions import imports

    actor = bench_actor()
    content = import_csv(args.database_url, args.rows, args.seed)
    figures: dict[str, list[float]] = {"preview_import": [], "run_import after preview": []}
    if args.cold:
        figures["run_import cold"] = []
    start_load = os.getloadavg()
    for run in range(args.runs):
        # As the benchmark does: no dead rows left by the previous run's rolled-back import.
        vacuum_analyze(args.database_url)
        clear = getattr(imports, "clear_analysis_cache", None)
        if clear is not None:
            clear()
        elapsed, _preview = timed_call("preview_import", imports.preview_import, actor, content)
        figures["preview_import"].append(args.rows / elapsed)
        elapsed, report = timed_call("run_import after preview", imports.run_import, actor, content)
        figures["run_import after preview"].append(args.rows / elapsed)
        line = (
            f"run {run + 1}: preview {figures['preview_import'][-1]:,.0f} rows/s, run_import after preview "
            f"{figures['run_import after preview'][-1]:,.0f} rows/s (created {report.created:,}, "
            f"skipped {report.skipped:,}, merged {report.merged:,}, rejected {report.rejected:,})"
        )
        if args.cold:
            if clear is not None:
                clear()
            elapsed, report = timed_call("run_import cold", imports.run_import, actor, content)
            figures["run_import cold"].append(args.rows / elapsed)
            line += f", run_import cold {figures['run_import cold'][-1]:,.0f} rows/s"
        print(line, flush=True)
    vacuum_analyze(args.database_url)  # the rolled-back rows are dead rows until vacuumed
    print(f"{args.runs} runs, VACUUM (ANALYZE) before each; every call rolled back")
    for name, values in figures.items():
        cpu = statistics.median(CPU[name])
        print(
            f"import {args.rows:,} rows: {name:<26} median {statistics.median(values):,.0f} rows/s "
            f"({', '.join(f'{v:,.0f}' for v in values)}); CPU {cpu:.1f} s (Python + PostgreSQL backend)"
        )
    print(
        f"load average at the start {start_load[0]:.2f}, at the end {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
