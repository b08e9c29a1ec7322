"""The institutions list at two sizes, side by side: each scenario's p50 on both and their ratio (issue 20:
at a million institutions, within 1.5x of the figure at 100,000).

Two servers run the same code, one on each database. Each list scenario of `benchmark.py` is timed on
both in turns, a batch of requests on one then on the other, several rounds, so that a machine that
slows down meanwhile (other processes, a noisy neighbour) slows both alike. The totals come from the
lists' 10-second cache, as between two pages of one user (`list_totals.py` measures them uncached).

    .venv/bin/python bench/scale.py \\
        --small postgresql://postgres@127.0.0.1:5432/opex_bench \\
        --large postgresql://postgres@127.0.0.1:5432/opex_bench_1m       # about 3 minutes
"""

from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Sequence

import httpx
from benchmark import Scenario, login, percentile, pick_values, running_server, scenarios, timed
from generate import BENCH_EMAIL, BENCH_PASSWORD, configure_environment

RATIO_TARGET = 1.5


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--small", required=True, help="database URL of the smaller data set (100,000)")
    parser.add_argument("--large", required=True, help="database URL of the larger one (1,000,000)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=20, help="timed requests per scenario, side and round")
    parser.add_argument("--only", help="run only the scenarios whose name contains this text")
    return parser.parse_args(argv)


def _checked(client: httpx.Client, scenario: Scenario) -> tuple[str, str]:
    """The scenario's first answer: its total, and what its check found wrong ("" when nothing)."""
    response = client.get(scenario.path, params=scenario.params)
    if response.status_code != 200:
        return "", f"HTTP {response.status_code}"
    body = response.json()
    total = body.get("total")
    problem = scenario.check(body) if scenario.check else None
    return (f"{total:,}" if isinstance(total, int) else ""), problem or ""


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    configure_environment(args.small)
    sides = {"small": args.small, "large": args.large}
    plans = {side: {s.name: s for s in scenarios(pick_values(url))} for side, url in sides.items()}
    names = [name for name in plans["small"] if name in plans["large"] and (not args.only or args.only in name)]
    samples: dict[tuple[str, str], list[float]] = {(side, name): [] for side in sides for name in names}
    found: dict[tuple[str, str], tuple[str, str]] = {}
    with running_server(args.small) as small, running_server(args.large) as large:
        bases = {"small": small, "large": large}
        clients = {side: httpx.Client(base_url=base, timeout=60) for side, base in bases.items()}
        try:
            for round_ in range(args.rounds):
                for client in clients.values():  # a fresh access token per round: they last 15 minutes
                    login(client, BENCH_EMAIL, BENCH_PASSWORD)
                for name in names:
                    for side, client in clients.items():
                        scenario = plans[side][name]
                        if round_ == 0:
                            found[side, name] = _checked(client, scenario)
                        request = functools.partial(client.get, scenario.path, params=scenario.params)
                        for _ in range(3):  # the other side ran meanwhile: warm this one again
                            request()
                        for _ in range(args.batch):
                            timed(samples[side, name], request)
                print(f"  round {round_ + 1} of {args.rounds} done", flush=True)
        finally:
            for client in clients.values():
                client.close()
    print(
        f"\n{args.rounds} rounds of {args.batch} requests per scenario and side, in turns; "
        f"load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}\n"
    )
    header = f"{'scenario':<34} {'rows small':>11} {'rows large':>11} {'p50 small':>10} {'p50 large':>10} {'ratio':>6}"
    print(header + f"  target <= {RATIO_TARGET}")
    for name in names:
        small_p50, large_p50 = percentile(samples["small", name], 50), percentile(samples["large", name], 50)
        ratio = large_p50 / small_p50
        problems = "; ".join(f"{side}: {found[side, name][1]}" for side in sides if found[side, name][1])
        print(
            f"{name:<34} {found['small', name][0]:>11} {found['large', name][0]:>11} {small_p50:>8.1f}ms "
            f"{large_p50:>8.1f}ms {ratio:>6.2f}  {'PASS' if ratio <= RATIO_TARGET else 'FAIL'}"
            + (f"  ({problems})" if problems else "")
        )


if __name__ == "__main__":
    main()
