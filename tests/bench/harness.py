"""The benchmark harness: a real server and database, wrk and pgbench, ratios to baselines."""

from __future__ import annotations

import math
import os
import re
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_by_family() -> dict[str, float]:
    """CPU seconds used so far by the server's processes and by PostgreSQL's (from /proc)."""
    totals = {"server": 0.0, "database": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        family = (
            "database"
            if b"postgres" in command
            else "server"
            if b"cpa\x00serve" in command or b"tests.bench.serve" in command
            else None
        )
        if family is not None:
            totals[family] += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return totals


@dataclass
class BenchContext:
    base_url: str
    dsn: str
    pgbench: str
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
    if scenario.pgbench_script is not None:
        return run_pgbench_script(ctx, scenario, duration_s)
    return run_wrk(ctx.base_url, scenario, duration_s)


def run_wrk(base_url: str, scenario: Scenario, duration_s: int = WRK_DURATION_S) -> Result:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua_for(scenario))
    before = cpu_by_family()
    out = subprocess.run(
        [
            wrk,
            f"-t{scenario.threads or WRK_THREADS}",
            f"-c{scenario.connections}",
            f"-d{duration_s}s",
            "--latency",
            "-s",
            script.name,
            base_url + scenario.path,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    after = cpu_by_family()
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


def run_pgbench(pgbench: str, dsn: str, clients: int, duration_s: int = WRK_DURATION_S) -> Result:
    subprocess.run([pgbench, "-i", "-s", "1", "-q", dsn], capture_output=True, check=True)
    tps, latency, _ = _pgbench(
        pgbench, "-S", "-n", "-c", str(clients), "-j", "2", "-T", str(duration_s), "-r", dsn
    )
    return Result("pgbench", tps, latency, float("nan"), 0)


def _busy_s() -> float:
    """CPU seconds the whole machine has spent busy (/proc/stat: all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / _CLOCK_TICKS


def run_pgbench_script(ctx: BenchContext, scenario: Scenario, duration_s: int) -> Result:
    """``scenario.pgbench_script`` on ``scenario.connections`` clients; ``database_us`` is all
    the machine's CPU but pgbench's own per transaction (pgbench's backends end with it, so
    they cannot be counted one by one; the idle server adds next to nothing)."""
    assert scenario.pgbench_script is not None
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(scenario.pgbench_script)
    children = os.times()
    busy = _busy_s()
    tps, latency, failed = _pgbench(
        ctx.pgbench, "-n", "-M", "prepared", "-c", str(scenario.connections), "-j", "2",
        "-T", str(duration_s), "-f", script.name, ctx.dsn,
    )  # fmt: skip
    busy = _busy_s() - busy
    after = os.times()
    Path(script.name).unlink()
    pgbench_s = (after.children_user - children.children_user) + (
        after.children_system - children.children_system
    )
    transactions = tps * duration_s
    return Result(
        scenario.name,
        tps,
        latency,
        float("nan"),
        failed,
        database_us=1e6 * (busy - pgbench_s) / transactions,
    )


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
    )
