"""`make bench`: every scenario side by side with its baseline, in the same run.

Usage: python tests/bench/run.py [--rounds N] [--duration S] [--only NAME…] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import importlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT))

from cpa.db.admin import create_database, migrate_database  # noqa: E402
from cpa.db.embedded import EmbeddedPostgres  # noqa: E402
from cpa.log import configure_logging  # noqa: E402
from tests.bench.harness import (  # noqa: E402
    BenchContext,
    CpuMeter,
    Result,
    Scenario,
    lua_for,
    median_result,
    run_pgbench,
    run_scenario,
)
from tests.support.processes import cpa_env, free_port, wait_ready  # noqa: E402


def _scenario_modules() -> list[str]:
    return sorted(p.stem for p in (PROJECT / "tests" / "bench").glob("scenarios_*.py"))


def _pure_scripts() -> list[Path]:
    return sorted((PROJECT / "tests" / "bench").glob("bench_*.py"))


def main() -> int:
    # One benchmark at a time on this machine: two would measure each other.
    (PROJECT / ".cpa").mkdir(exist_ok=True)
    with open(PROJECT / ".cpa" / "bench.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _bench()


def _bench() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="set up, write each scenario's wrk script under .cpa/bench/keep/, then keep the "
        "server and database running until interrupted (for profiling by hand)",
    )
    parser.add_argument(
        "--pg-stats",
        action="store_true",
        help="load pg_stat_statements (nested statements too) and print the costliest ones",
    )
    args = parser.parse_args()
    configure_logging("console")  # the setup's own log lines, at info like the server's

    data_dir = PROJECT / ".cpa" / "bench"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    pg_settings = _PG_STATS_SETTINGS if args.pg_stats else None
    pg = EmbeddedPostgres(
        data_dir / "pgdata",
        free_port(),
        cache_dir=PROJECT / ".cpa" / "pgbin",
        settings=pg_settings,
    )
    pg.ensure_running()
    dsn = pg.dsn("cpa")
    asyncio.run(create_database(pg.dsn(), "cpa"))
    asyncio.run(migrate_database(dsn))
    if args.pg_stats:
        asyncio.run(_execute(dsn, "create extension if not exists pg_stat_statements"))
    port = free_port()
    env = cpa_env(
        database_url=dsn, port=str(port), data_dir=str(data_dir), workers=str(args.workers)
    )
    env["CPA_LOG_FORMAT"] = "json"
    # The demo data set (the ledger scenarios start from its first person), before the server.
    with (data_dir / "demo.log").open("wb") as demo_log:
        subprocess.run([sys.executable, "-m", "cpa", "demo"], env=env, cwd=PROJECT,
                       stdout=demo_log, stderr=subprocess.STDOUT, check=True)  # fmt: skip
    server = _start_bench_server(env, data_dir / "server.log")
    results: dict[str, Result] = {}
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_ready(base_url)
        cpu = CpuMeter({"server": server.pid, "database": pg.postmaster_pid()})
        ctx = BenchContext(base_url, dsn, pg.binaries.tool("pgbench"), cpu)
        scenarios: list[Scenario] = []
        for module in _scenario_modules():
            scenarios += importlib.import_module(f"tests.bench.{module}").scenarios(ctx)
        if args.only:
            scenarios = [s for s in scenarios if s.name in args.only]
        if args.keep:
            _keep(ctx, scenarios, data_dir / "keep")
            return 0
        clients = max((s.connections for s in scenarios), default=32)
        results["pgbench"] = median_result(
            [run_pgbench(ctx, clients, args.duration) for _ in range(args.rounds)]
        )
        # Warm-up, not measured: each worker's pool grows to its size, and every new connection
        # prepares its statements and plans them (custom plans first: ~2 ms each for the
        # account read): measured, that start-up cost inflated a short run's database time by
        # ~80 µs a request.
        for scenario in scenarios:
            run_scenario(ctx, scenario, WARM_UP_S)
        # Rounds interleave the scenarios, so a scenario and its baseline see the same drift
        # of this noisy machine; each figure is the median of its rounds.
        rounds: dict[str, list[Result]] = {scenario.name: [] for scenario in scenarios}
        for _ in range(args.rounds):
            for scenario in scenarios:
                if args.pg_stats:
                    asyncio.run(_execute(dsn, "select pg_stat_statements_reset()"))
                rounds[scenario.name].append(run_scenario(ctx, scenario, args.duration))
                if args.pg_stats:
                    asyncio.run(_print_pg_stats(dsn, scenario.name))
        for scenario in scenarios:
            results[scenario.name] = median_result(rounds[scenario.name])
        _print_table(scenarios, results)
        print(f"results saved in {_save_results(scenarios, results, args)}")
    finally:
        _stop(server)
        pg.stop()
    for script in _pure_scripts():
        if args.only and script.stem not in args.only:
            continue
        print(f"\n# {script.name}")
        subprocess.run([sys.executable, str(script)], check=False, cwd=PROJECT)
    return 0


SERVER_STOP_TIMEOUT_S = 30
WARM_UP_S = 2


def _start_bench_server(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``cpa serve``'s server with the twins and floors mounted (tests/bench/serve.py)."""
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.bench.serve"],
            env=env,
            cwd=PROJECT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: we can signal it whole
        )


def _keep(ctx: BenchContext, scenarios: list[Scenario], keep_dir: Path) -> None:
    """Leave everything running: one wrk script per scenario, the URL and DSN printed."""
    keep_dir.mkdir(exist_ok=True)
    for scenario in scenarios:
        if scenario.pgbench_script is not None:
            (keep_dir / f"{scenario.name}.sql").write_text(scenario.pgbench_script)
        else:
            (keep_dir / f"{scenario.name}.lua").write_text(lua_for(scenario))
    print(f"# kept: {ctx.base_url}  {ctx.dsn}  scripts in {keep_dir}", flush=True)
    print(f"# e.g. wrk -t2 -c32 -d8s -s {keep_dir}/health_ready.lua {ctx.base_url}/health/ready")
    stop = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    signal.sigwait(stop)


def _stop(server: subprocess.Popen[bytes]) -> None:
    """SIGINT, then SIGKILL: a worker still draining requests queued behind wrk's last ones
    may not stop in time, and the database must be stopped whatever happens."""
    os.killpg(server.pid, signal.SIGINT)
    try:
        server.wait(SERVER_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


_PG_STATS_SETTINGS = {
    "shared_preload_libraries": "'pg_stat_statements'",
    "pg_stat_statements.track": "all",
}
PG_STATS_SHOWN = 12


async def _execute(dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _print_pg_stats(dsn: str, scenario: str) -> None:
    """Where the database spent its time during one scenario (exec time, not counting I/O
    waits of the commit): statements nested in functions are listed too (toplevel = f)."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "select calls, total_exec_time / calls * 1000 as us, toplevel, "
            "regexp_replace(left(query, 90), '\\s+', ' ', 'g') as query "
            "from pg_stat_statements where calls > 0 order by total_exec_time desc limit $1",
            PG_STATS_SHOWN,
        )
    finally:
        await connection.close()
    print(f"\n# pg_stat_statements during {scenario}: calls, µs per call, toplevel, query")
    for row in rows:
        level = "t" if row["toplevel"] else "f"
        print(f"{row['calls']:>8} {row['us']:>8.0f}  {level}  {row['query']}")


RESULTS_DIR = PROJECT / "tests" / "bench" / "results"


def _number(value: float, digits: int) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def _save_results(
    scenarios: list[Scenario], results: dict[str, Result], args: argparse.Namespace
) -> Path:
    """One JSON file per run (``tests/bench/results/``): each scenario by its name, with
    its medians, CPU per request of cpa's own processes, and its ratio to its baseline."""
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=PROJECT, capture_output=True, text=True
    ).stdout.strip()
    named = {"pgbench": Scenario("pgbench", "")} | {s.name: s for s in scenarios}
    document = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit or None,
        "arguments": sys.argv[1:],
        "rounds": args.rounds,
        "duration_s": args.duration,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "scenarios": {
            name: _scenario_json(scenario, results[name], results)
            for name, scenario in named.items()
            if name in results
        },
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{document['measured_at'].replace(':', '')}-{commit or 'unknown'}.json"
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return path


def _scenario_json(
    scenario: Scenario, result: Result, results: dict[str, Result]
) -> dict[str, Any]:
    base = results.get(scenario.baseline) if scenario.baseline else None
    return {
        "rps": _number(result.requests_per_s, 1),
        "server_us_per_req": _number(result.server_us, 1),
        "pg_us_per_req": _number(result.database_us, 1),
        "wal_fpi_per_req": _number(result.wal_fpi, 3),
        "wal_bytes_per_req": _number(result.wal_bytes, 0),
        "checkpoints": result.checkpoints,
        "p50_ms": _number(result.p50_ms, 3),
        "p99_ms": _number(result.p99_ms, 3),
        "errors": result.errors,
        "baseline": scenario.baseline,
        "ratio": _number(result.requests_per_s / base.requests_per_s, 3) if base else None,
        "target": scenario.target or None,
    }


def _print_table(scenarios: list[Scenario], results: dict[str, Result]) -> None:
    print(
        f"\n{'scenario':<28}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}"
        f"{'srv µs':>8}{'pg µs':>7}{'fpi':>6}{'wal B':>7}  {'ratio':<30}target"
    )
    pg = results["pgbench"]
    print(
        f"{'pgbench -S (baseline)':<28}{pg.requests_per_s:>10.0f}{pg.p50_ms:>9.2f}"
        f"{'':>9}{'':>9}{'':>8}{pg.database_us:>7.0f}"
    )
    for scenario in scenarios:
        result = results[scenario.name]
        ratio = ""
        if scenario.baseline and scenario.baseline in results:
            base = results[scenario.baseline].requests_per_s
            ratio = f"{result.requests_per_s / base:.2f} x {scenario.baseline}"
        print(
            f"{scenario.name:<28}{result.requests_per_s:>10.0f}{result.p50_ms:>9.2f}"
            f"{result.p99_ms:>9.2f}{result.errors:>9}{result.server_us:>8.0f}"
            f"{result.database_us:>7.0f}{result.wal_fpi:>6.2f}{result.wal_bytes:>7.0f}"
            f"  {ratio:<30}{scenario.target}"
        )
    print(
        f"(wrk from loopback, median of interleaved rounds; srv/pg µs: CPU per request of the "
        f"server's and of PostgreSQL's process trees started by this run, nothing else; "
        f"measured {time.strftime('%Y-%m-%d %H:%M')})"
    )


if __name__ == "__main__":
    sys.exit(main())
