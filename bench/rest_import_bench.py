"""The CSV import through the REST route, end to end, beside the same file through the service in process.

    .venv/bin/python bench/rest_import_bench.py [--database-url URL] [--rows 5000] [--runs 3] [--existing 2000]

Drops and recreates its own database (default `opex_bench_rest`), creates the benchmark's teams and users
and `--existing` institutions with `generate.py`'s factory, starts `opex-crm serve` on a free port and
times `POST /api/institutions/import` (one call: file, analysis, writes, commit, answer) for two files
of `--rows` rows:

- `one city`: the file of issue 17, names that differ only by a number ("Clinique du Parc 12", "... 13")
  in one city and postal code: distinct institutions, every row created;
- `generated`: `benchmark.py`'s French file (names, places and identifiers as `generate.py` draws them).

Each file is then timed through `imports.run_import` in this process, without a preview first (the REST
route's case) and rolled back: the figure `import_bench.py --cold` gives. What REST adds on top of that is
the request itself (upload, answer) and the commit. After each REST run the rows it created are deleted,
so that every run imports into the same database. Besides the elapsed seconds it prints the CPU seconds
each REST call cost the server process and the database's backends (read from /proc: the server and
PostgreSQL must run on this machine), which a busy shared machine changes far less than the elapsed time.
It prints figures; it is not a timed test.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import psycopg
from benchmark import _RollBack, bench_actor, import_csv, login, running_server
from generate import (
    BENCH_EMAIL,
    BENCH_PASSWORD,
    Factory,
    configure_environment,
    create_staff,
    load,
    plan,
    prepare_database,
    psycopg_url,
)

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/opex_bench_rest"
HEADER = (
    "Nom;Type d'établissement;N° FINESS;SIRET;Code comptable;Adresse;Code postal;Ville;Région;Téléphone;"
    "Nombre de lits;Blocs opératoires;Spécialités;Prénom contact;Nom contact;Email contact;Fonction contact;"
    "Chiffre d'affaires"
)


def one_city_csv(rows: int) -> bytes:
    """Issue 17's file: "Clinique du Parc 1" ... "Clinique du Parc N", all in Lyon 69006, a contact each."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER.split(";"))
    for index in range(1, rows + 1):
        writer.writerow(
            [
                f"Clinique du Parc {index}",
                "Clinique privée",
                "",
                "",
                "",
                f"{index} rue du Parc",
                "69006",
                "Lyon",
                "Auvergne-Rhône-Alpes",
                "04 72 00 00 00",
                "",
                "",
                "",
                "Camille",
                f"Martin {index}",
                f"camille.martin{index}@clinique-parc.fr",
                "Directrice",
                "",
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process of this machine has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pid(base: str) -> int:
    """The `opex-crm serve` process listening on `base`'s port (found by its command line and PORT)."""
    port = base.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"crm_app.cli" in command and f"PORT={port}".encode() in environment:
            return int(entry.name)
    raise RuntimeError(f"no server process for {base}")


def backends(url: str) -> list[int]:
    """The PostgreSQL backends connected to the benchmark's database (the server's pool among them)."""
    with psycopg.connect(psycopg_url(url)) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [pid for (pid,) in rows]


def delete_institutions(url: str, ids: list[str]) -> None:
    """Remove what a committed import created (and its audit entries), so that the next run starts equal."""
    with psycopg.connect(psycopg_url(url)) as connection:
        connection.execute("DELETE FROM audit_entries WHERE institution_id = ANY(%s::uuid[])", (ids,))
        connection.execute("DELETE FROM institutions WHERE id = ANY(%s::uuid[])", (ids,))
    with psycopg.connect(psycopg_url(url), autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE) institutions")


def rest_import(client: httpx.Client, content: bytes) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = client.post(
        "/api/institutions/import",
        files={"file": ("institutions.csv", content, "text/csv")},
        data={"default_action": "skip"},
        timeout=600,
    )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response.json()


def in_process_import(content: bytes, actor: Any) -> tuple[float, Any]:
    """`run_import` without a preview (the REST route's case), in a unit of work that is rolled back."""
    from crm_app.institutions import imports
    from crm_app.platform.db import unit_of_work

    imports.clear_analysis_cache()
    outcome: list[Any] = []
    started = time.perf_counter()
    with contextlib.suppress(_RollBack), unit_of_work() as session:
        outcome.append(imports.run_import(session, actor, content))
        session.flush()
        elapsed = time.perf_counter() - started
        raise _RollBack
    return elapsed, outcome[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--existing", type=int, default=2_000, help="institutions in the database beforehand")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    configure_environment(args.database_url)
    rng = random.Random(args.seed)
    prepare_database(args.database_url, replace=True)
    staff = create_staff(rng)
    if args.existing:
        types, counts = plan(rng, args.existing, args.existing * 2)
        load(args.database_url, Factory(rng, staff, types, counts, now=datetime.now(UTC)), args.existing)
    files = {"one city": one_city_csv(args.rows), "generated": import_csv(args.database_url, args.rows, args.seed)}
    actor = bench_actor()
    rest: dict[str, list[float]] = {name: [] for name in files}
    rest_cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in files}  # (server, database)
    local: dict[str, list[float]] = {name: [] for name in files}
    start_load = os.getloadavg()
    with running_server(args.database_url) as base, httpx.Client(base_url=base) as client:
        login(client, BENCH_EMAIL, BENCH_PASSWORD)
        server = server_pid(base)
        for run in range(1, args.runs + 1):
            for name, content in files.items():
                pids = backends(args.database_url)
                server_before, database_before = cpu_seconds(server), sum(cpu_seconds(pid) for pid in pids)
                # Blank lines (skipped by the import) make each run's file new to the server: the analysis
                # it keeps of a file it imported is not reused, as it would be for the same bytes again.
                elapsed, body = rest_import(client, content + b"\r\n" * run)
                pids += [pid for pid in backends(args.database_url) if pid not in pids]
                rest_cpu[name].append(
                    (cpu_seconds(server) - server_before, sum(cpu_seconds(pid) for pid in pids) - database_before)
                )
                rest[name].append(elapsed)
                delete_institutions(args.database_url, body["created_ids"])
                seconds, report = in_process_import(content, actor)
                local[name].append(seconds)
                server_cpu, database_cpu = rest_cpu[name][-1]
                print(
                    f"run {run} {name:<9}: REST {elapsed:6.2f} s, CPU {server_cpu:.1f} s server + "
                    f"{database_cpu:.1f} s database (created {body['created']:,}, skipped {body['skipped']:,}, "
                    f"rejected {body['rejected']:,}); run_import in process {seconds:6.2f} s "
                    f"(created {report.created:,})",
                    flush=True,
                )
    print(f"{args.runs} runs of {args.rows:,} rows into {args.existing:,} institutions; medians:")
    for name in files:
        median_rest, median_local = statistics.median(rest[name]), statistics.median(local[name])
        server_cpu = statistics.median(cpu for cpu, _database in rest_cpu[name])
        database_cpu = statistics.median(cpu for _server, cpu in rest_cpu[name])
        print(
            f"import {args.rows:,} rows, {name:<9}: REST {median_rest:6.2f} s = {args.rows / median_rest:,.0f} rows/s "
            f"(CPU {server_cpu:.1f} s server + {database_cpu:.1f} s database); "
            f"run_import in process {median_local:6.2f} s = {args.rows / median_local:,.0f} rows/s"
        )
    print(
        f"load average at the start {start_load[0]:.2f}, at the end {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
