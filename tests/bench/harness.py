"""The benchmark harness: a real server and database, wrk and pgbench, ratios to baselines."""

from __future__ import annotations

import asyncio
import math
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

WRK_DURATION_S = 8
WRK_THREADS = 2


@dataclass
class Scenario:
    name: str
    path: str
    method: str = "GET"
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    lua: str | None = None
    """A full wrk Lua script; replaces method/body/headers when given."""
    connections: int = 32
    threads: int | None = None
    """wrk threads (default WRK_THREADS); one per connection gives each connection its own Lua
    state, for a script whose next request depends on the last response."""
    baseline: str | None = None
    """Name of the scenario (or 'pgbench') whose requests/s this one is divided by."""
    target: str = ""
    """The target, in words, printed beside the figure."""
    pgbench_script: str | None = None
    """A pgbench script run instead of wrk (the database alone, no server in the path): its
    transactions/s stand for requests/s, and its CPU for ``database_us``."""


@dataclass
class Result:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_us: float = float("nan")
    """CPU of the server's processes per request (µs): steadier than requests/s on a machine
    whose speed drifts, since it does not count the time the others take."""
    database_us: float = float("nan")
    """CPU of PostgreSQL's processes per request (µs)."""
    wal_fpi: float = float("nan")
    """Full-page images written to the WAL per request (after a checkpoint, the first change
    of each page writes the whole page)."""
    wal_bytes: float = float("nan")
    """WAL bytes per request."""
    checkpoints: int = 0
    """Checkpoints begun during the run."""


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CHILDREN_REAPED_WAIT_S = 2.0
"""How long to wait for PostgreSQL to reap the backends of clients that just disconnected."""


def _process_table() -> dict[int, tuple[int, float]]:
    """Every process: its parent, and the CPU seconds it and its reaped children used."""
    table: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile: its time is in its parent's once reaped
        ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        table[int(entry.name)] = (int(fields[1]), ticks / _CLOCK_TICKS)
    return table


def _descendants(table: dict[int, tuple[int, float]], root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in table and pid not in tree:
            tree.add(pid)
            todo += children.get(pid, [])
    return tree


@dataclass
class CpuMeter:
    """CPU seconds of the process trees the harness started, and of nothing else.

    A tree's time is its live processes' own time plus what their exited children used (the
    kernel adds a reaped child's time to its parent's ``cutime``/``cstime``): the server's
    workers, and PostgreSQL's backends, those of clients gone since (pgbench's) included. No
    command-line matching, no machine totals: other clusters, servers and tools on a shared
    machine are not counted.
    """

    roots: dict[str, int]
    """The family's name (``server``, ``database``) → the pid of the process it started."""

    def read(self) -> dict[str, float]:
        table = _process_table()
        return {
            family: sum(table[pid][1] for pid in _descendants(table, root))
            for family, root in self.roots.items()
        }

    def children(self, family: str) -> int:
        table = _process_table()
        return len(_descendants(table, self.roots[family])) - 1

    def read_after_clients_left(self, family: str, children_before: int) -> dict[str, float]:
        """``read`` once the clients' backends that ended are reaped (their time counted)."""
        deadline = time.monotonic() + CHILDREN_REAPED_WAIT_S
        while self.children(family) > children_before and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.read()


@dataclass
class BenchContext:
    base_url: str
    dsn: str
    pgbench: str
    cpu: CpuMeter
    state: dict[str, Any] = field(default_factory=dict)
    setup: list[Callable[[], None]] = field(default_factory=list)


def lua_for(scenario: Scenario) -> str:
    if scenario.lua is not None:
        return scenario.lua
    lines = [f'wrk.method = "{scenario.method}"']
    for key, value in scenario.headers.items():
        lines.append(f'wrk.headers["{key}"] = "{value}"')
    if scenario.body is not None:
        body = scenario.body.decode().replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'wrk.body = "{body}"')
    return "\n".join(lines) + "\n"


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s|m)\b", text)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return {"us": value / 1000, "ms": value, "s": value * 1000, "m": value * 60_000}[unit]


def run_scenario(ctx: BenchContext, scenario: Scenario, duration_s: int) -> Result:
    before = wal_counters(ctx.dsn)
    if scenario.pgbench_script is not None:
        result = run_pgbench_script(ctx, scenario, duration_s)
    else:
        result = run_wrk(ctx, scenario, duration_s)
    after = wal_counters(ctx.dsn)
    requests = result.requests_per_s * duration_s
    result.wal_fpi = (after["wal_fpi"] - before["wal_fpi"]) / requests
    result.wal_bytes = (after["wal_bytes"] - before["wal_bytes"]) / requests
    result.checkpoints = int(after["checkpoints"] - before["checkpoints"])
    return result


def wal_counters(dsn: str) -> dict[str, float]:
    """PostgreSQL's WAL counters so far (``pg_stat_wal``): full-page images, bytes, and
    checkpoints (timed and requested)."""

    async def read() -> dict[str, float]:
        connection = await asyncpg.connect(dsn)
        try:
            row = await connection.fetchrow(
                "select wal_fpi, wal_bytes::float8 as wal_bytes, "
                "num_timed + num_requested as checkpoints "
                "from pg_stat_wal, pg_stat_checkpointer"  # PostgreSQL 17
            )
        finally:
            await connection.close()
        assert row is not None
        return {key: float(value) for key, value in row.items()}

    return asyncio.run(read())


def run_wrk(ctx: BenchContext, scenario: Scenario, duration_s: int = WRK_DURATION_S) -> Result:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua_for(scenario))
    before = ctx.cpu.read()
    out = subprocess.run(
        [
            wrk,
            f"-t{scenario.threads or WRK_THREADS}",
            f"-c{scenario.connections}",
            f"-d{duration_s}s",
            "--latency",
            "-s",
            script.name,
            ctx.base_url + scenario.path,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    after = ctx.cpu.read()
    Path(script.name).unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    requests = rps * duration_s
    return Result(
        scenario.name,
        rps,
        p50,
        p99,
        errors,
        server_us=1e6 * (after["server"] - before["server"]) / requests,
        database_us=1e6 * (after["database"] - before["database"]) / requests,
    )


def _pgbench(pgbench: str, *args: str) -> tuple[float, float, int]:
    """Run pgbench: transactions/s, average latency (ms), failed transactions."""
    out = subprocess.run([pgbench, *args], capture_output=True, text=True, check=True).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))  # type: ignore[union-attr]
    failed = re.search(r"number of failed transactions: (\d+)", out)
    return tps, latency, int(failed.group(1)) if failed else 0


def _database_us(ctx: BenchContext, args: list[str]) -> tuple[float, float, int, float]:
    """pgbench with ``args``: transactions/s, latency (ms), failures, and PostgreSQL's CPU per
    transaction (µs), its backends for pgbench's clients included (reaped when they end)."""
    children = ctx.cpu.children("database")
    before = ctx.cpu.read()
    tps, latency, failed = _pgbench(ctx.pgbench, *args)
    after = ctx.cpu.read_after_clients_left("database", children)
    duration_s = float(args[args.index("-T") + 1])
    return tps, latency, failed, 1e6 * (after["database"] - before["database"]) / (tps * duration_s)


def run_pgbench(ctx: BenchContext, clients: int, duration_s: int = WRK_DURATION_S) -> Result:
    init = [ctx.pgbench, "-i", "-s", "1", "-q", ctx.dsn]
    subprocess.run(init, capture_output=True, check=True)
    tps, latency, _, database_us = _database_us(
        ctx, ["-S", "-n", "-c", str(clients), "-j", "2", "-T", str(duration_s), "-r", ctx.dsn]
    )
    return Result("pgbench", tps, latency, float("nan"), 0, database_us=database_us)


def run_pgbench_script(ctx: BenchContext, scenario: Scenario, duration_s: int) -> Result:
    """``scenario.pgbench_script`` on ``scenario.connections`` clients (the database alone)."""
    assert scenario.pgbench_script is not None
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(scenario.pgbench_script)
    tps, latency, failed, database_us = _database_us(
        ctx,
        ["-n", "-M", "prepared", "-c", str(scenario.connections), "-j", "2",
         "-T", str(duration_s), "-f", script.name, ctx.dsn],
    )  # fmt: skip
    Path(script.name).unlink()
    return Result(scenario.name, tps, latency, float("nan"), failed, database_us=database_us)


def _median(values: list[float]) -> float:
    known = [v for v in values if not math.isnan(v)]
    return statistics.median(known) if known else float("nan")


def median_result(results: list[Result]) -> Result:
    return Result(
        results[0].name,
        _median([r.requests_per_s for r in results]),
        _median([r.p50_ms for r in results]),
        _median([r.p99_ms for r in results]),
        sum(r.errors for r in results),
        _median([r.server_us for r in results]),
        _median([r.database_us for r in results]),
        _median([r.wal_fpi for r in results]),
        _median([r.wal_bytes for r in results]),
        sum(r.checkpoints for r in results),
    )
