"""`make fuzz`: schemathesis over every operation of the committed spec, against a real server.

A throwaway database with the demo persons, a real ``python -m cpa serve``, tokens from the real
flows (login + consent form and code exchange for the citizen and the training body, client
credentials for the operator and the advisor tool); then ``st run`` with every check and every
phase (examples, coverage, fuzzing, stateful), a fixed seed, a bounded example count and a
bounded time. Only 127.0.0.1 is ever contacted.

Fails (exit 1) when a response is a 5xx (``not_a_server_error``), when a request got no answer
(timeout, connection reset), when an answer is not what the committed spec says (status code,
content type and response schema conformance: the spec is the contract, issue 15) or when the
server logged a failed request or a traceback. The other checks' failures (negative data
rejection, positive data acceptance…: what the spec cannot say, such as a hold beyond the
person's balance) are reported per check and operation without failing the run.

Usage: python tests/fuzz/run.py [--budget-s S] [--seed N] [--max-examples N] [--workers N]
                                [--keep]   (the run directory is kept anyway when it fails)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT))

from tests.fuzz import overlay, verdict, world  # noqa: E402

SPEC = PROJECT / "openapi" / "openapi.json"
PHASES = "examples,coverage,fuzzing,stateful"
BUDGET_S_DEFAULT = 240
SEED_DEFAULT = 20_260_601
MAX_EXAMPLES_DEFAULT = 50  # per operation and per pass: the budget bounds the passes
REQUEST_TIMEOUT_S = 10.0  # an answer later than this is a failure (and a hang is one)
SCHEMATHESIS_GRACE_S = 120  # after its budget: it finishes the running case, writes reports
TOKEN_MARGIN_S = 600  # tokens outlive the run by this much
# Strings that break stores and parsers more often than random ones do: NUL (PostgreSQL text
# refuses it), numbers beyond int64, empty and long values at length checks, non-ASCII where
# a protocol wants ASCII. Mixed into every generated string at this probability.
HOSTILE_STRINGS = [
    "\x00", "a\x00b", "", " ", "9223372036854775808", "-9223372036854775809",
    "1e309", "NaN", "é", "\u2028", "😀", "%00", "\r\n", "x" * 256, "x" * 70_000,
]  # fmt: skip
HOSTILE_PROBABILITY = 0.05


def main() -> int:
    args = _arguments()
    run_dir = Path(tempfile.mkdtemp(prefix="cpa-fuzz-"))
    started = time.monotonic()
    print(f"fuzz: run directory {run_dir}", flush=True)
    with ExitStack() as stack:
        dsn = stack.enter_context(world.database())
        data_dir = run_dir / "data"
        world.load_demo(dsn, data_dir)
        partners = world.register_partners(dsn)
        log_path = run_dir / "serve.log"
        base_url = stack.enter_context(
            world.server(
                dsn,
                data_dir,
                log_path,
                args.workers,
                args.budget_s + SCHEMATHESIS_GRACE_S + TOKEN_MARGIN_S,
            )
        )
        tokens = world.real_tokens(base_url, partners)
        spec_path = _spec(run_dir, world.body_types(data_dir))
        config = _config(run_dir, world.roles_by_operation(data_dir), tokens, partners["oauth"])
        code = _schemathesis(args, run_dir, spec_path, config, base_url)
    outcome = verdict.judge(run_dir / "report", log_path, REQUEST_TIMEOUT_S)
    if code not in (0, 1):  # 1: some check failed, judged here; anything else: it broke
        outcome.errors.append(f"schemathesis exited {code} (see {run_dir}/schemathesis.out)")
    print(verdict.report(outcome, run_dir / "fuzz-summary.txt"), flush=True)
    print(outcome.summary(time.monotonic() - started), flush=True)
    if outcome.failed:
        return 1
    if not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--budget-s",
        type=int,
        default=int(os.environ.get("FUZZ_BUDGET_S", BUDGET_S_DEFAULT)),
        help="schemathesis's time budget (env FUZZ_BUDGET_S)",
    )
    parser.add_argument("--seed", type=int, default=SEED_DEFAULT)
    parser.add_argument("--max-examples", type=int, default=MAX_EXAMPLES_DEFAULT)
    parser.add_argument("--workers", type=int, default=1, help="CPA_WORKERS of the server")
    parser.add_argument("--keep", action="store_true", help="keep the run directory")
    return parser.parse_args()


def _spec(run_dir: Path, body_types: dict[str, Any]) -> Path:
    today = dt.datetime.now(dt.UTC).date()
    spec = overlay.for_the_run(json.loads(SPEC.read_text()), body_types, today)
    path = run_dir / "openapi.json"
    path.write_text(json.dumps(spec))
    return path


def _config(
    run_dir: Path, roles: dict[str, str | None], tokens: dict[str, str], oauth: world.Partner
) -> Path:
    """schemathesis.toml: hostile strings mixed into generated ones, each role's token on the
    operations it is meant for, a real client's Basic credentials on the OAuth endpoints
    that authenticate clients."""
    basic = {"username": oauth.client_id, "password": oauth.secret}
    lines = [
        "[dictionaries.hostile]",
        f"values = {json.dumps(HOSTILE_STRINGS, ensure_ascii=False)}",  # TOML: no surrogates
        "[generation.dictionaries]",
        f'string = {{ dictionary = "hostile", probability = {HOSTILE_PROBABILITY} }}',
        "",
        "[[operations]]",
        f"include-operation-id = {json.dumps(list(world.CLIENT_AUTHENTICATED))}",
        f"auth = {{ basic = {_toml_table(basic)} }}",
        "",
    ]
    for role, token in sorted(tokens.items()):
        ids = sorted(op for op, r in roles.items() if r == role)
        if ids:
            lines += [
                "[[operations]]",
                f"include-operation-id = {json.dumps(ids)}",
                f'headers = {{ Authorization = "Bearer {token}" }}',
                "",
            ]
    path = run_dir / "schemathesis.toml"
    path.write_text("\n".join(lines))
    return path


def _toml_table(values: dict[str, str]) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in values.items()) + " }"


def _schemathesis(
    args: argparse.Namespace, run_dir: Path, spec: Path, config: Path, base_url: str
) -> int:
    command = [
        str(Path(sys.executable).with_name("st")),
        "--no-color",
        "--config-file", str(config),
        "run", str(spec),
        "--url", base_url,
        "--checks", "all",
        "--phases", PHASES,
        "--seed", str(args.seed),
        "--max-examples", str(args.max_examples),
        "--max-time", str(args.budget_s),
        "--workers", "1",
        # Go on after a check fails: a non-gating check's failure (positive data refused
        # for want of rights…) would otherwise end each operation's scenario at its first case.
        "--continue-on-failure",
        "--request-timeout", str(REQUEST_TIMEOUT_S),
        "--max-redirects", "0",
        "--suppress-health-check", "all",
        "--report", "ndjson,junit",
        "--report-dir", str(run_dir / "report"),
    ]  # fmt: skip
    out = run_dir / "schemathesis.out"
    print(f"fuzz: schemathesis for {args.budget_s} s, seed {args.seed} (log {out})", flush=True)
    with out.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=run_dir, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            return process.wait(args.budget_s + SCHEMATHESIS_GRACE_S)
        except subprocess.TimeoutExpired:
            print("fuzz: schemathesis overran its budget: killed", flush=True)
            return -1
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


if __name__ == "__main__":
    sys.exit(main())
