"""What a fuzz run found: read schemathesis's NDJSON event stream and the server's JSON log.

Gating (fails the run): any response with a 5xx status; any request without an answer
(timeout, reset: a hang is a failure too, also when the server logs that it answered after
the client's timeout); any answer the committed spec does not describe (its status, its
content type, its body: the conformance checks, issue 15); any scenario schemathesis could not
run to the end (an error, not a check failure); any server log line of a failed request or a
traceback.
Reported only: the failures of every other check, counted per check and operation.
"""

from __future__ import annotations

import base64
import json
import shlex
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERVER_ERROR_STATUS = 500
LOG_FAILURE_EVENTS = ("request_failed",)
SHOWN_PER_OPERATION = 3  # reproductions printed for each failing operation
BODY_SHOWN_MAX_CHARS = 2_000  # longer bodies are cut in the printed curl
LAST_LINE_MAX_CHARS = 300
CONFORMANCE_CHECKS = (
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
"""The answer is what the spec says: these checks' failures fail the run."""


@dataclass(frozen=True)
class Reproduction:
    curl: str
    request_id: str


@dataclass
class Outcome:
    operations: set[str] = field(default_factory=set)
    """The spec's operations schemathesis tested (unexpected methods are cases of them)."""
    cases: int = 0
    server_errors: dict[str, list[Reproduction]] = field(default_factory=dict)
    """operation → its 5xx answers."""
    no_answer: dict[str, list[Reproduction]] = field(default_factory=dict)
    unconforming: dict[str, list[Reproduction]] = field(default_factory=dict)
    """``check: operation`` → the answers the spec does not describe."""
    errors: list[str] = field(default_factory=list)
    log_failures: dict[str, str] = field(default_factory=dict)
    """request_id → the last line of the traceback the server logged for it."""
    other_checks: Counter[tuple[str, str]] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def failed(self) -> bool:
        return bool(
            self.server_errors
            or self.no_answer
            or self.unconforming
            or self.errors
            or self.log_failures
        )

    def summary(self, duration_s: float) -> str:
        fivexx = sum(len(v) for v in self.server_errors.values())
        return (
            f"fuzz: {'FAILED' if self.failed else 'ok'}: {len(self.operations)} operations, "
            f"{self.cases} cases, {fivexx} 5xx, {sum(len(v) for v in self.no_answer.values())} "
            f"unanswered, {sum(len(v) for v in self.unconforming.values())} answers "
            f"unlike the spec, {len(self.log_failures)} server-log failures, "
            f"{sum(self.other_checks.values())} other check failures (not gating), "
            f"{duration_s:.0f} s"
        )


def judge(report_dir: Path, server_log: Path, timeout_s: float) -> Outcome:
    outcome = Outcome()
    for path in sorted(report_dir.glob("*.ndjson")):
        with path.open() as events:
            for line in events:
                _read_event(outcome, json.loads(line))
    outcome.log_failures = _log_failures(server_log, timeout_s * 1000)
    if outcome.cases == 0:
        outcome.errors.append("no request was sent")
    return outcome


def report(outcome: Outcome, path: Path) -> str:
    """Write the whole report to ``path``; what to print (the gating part, in short)."""
    gating = _gating(outcome)
    path.write_text(gating + _other(outcome))
    return gating + _short(outcome, path)


def _read_event(outcome: Outcome, event: dict[str, Any]) -> None:
    (kind, body), *_ = event.items()
    if kind == "NonFatalError":
        outcome.errors.append(_error_text(body))
    elif kind == "FatalError":
        outcome.errors.append("fatal: " + _error_text(body))
    elif kind == "ScenarioFinished":
        _read_scenario(outcome, body)


def _error_text(body: dict[str, Any]) -> str:
    info = body.get("info") or body.get("exception") or body
    if isinstance(info, dict):
        return f"{body.get('label', '')}: {info.get('title', '')}: {info.get('message', '')}"
    return str(info)[:500]


def _read_scenario(outcome: Outcome, body: dict[str, Any]) -> None:
    recorder = body.get("recorder") or {}
    label = recorder.get("label", "?")
    if body.get("status") == "error":
        outcome.errors.append(f"{label}: scenario error ({body.get('phase')})")
    if body.get("phase") != "stateful":  # a stateful scenario's label names no operation
        outcome.operations.add(label)
    cases = recorder.get("cases") or {}
    interactions = recorder.get("interactions") or {}
    for case_id, case in cases.items():
        operation = _operation(case, label)  # an unexpected method's case is not its label's
        interaction = interactions.get(case_id)
        if interaction is None:
            continue  # generated, never sent (skipped or rejected before sending)
        outcome.cases += 1
        response = interaction.get("response")
        if response is None:
            outcome.no_answer.setdefault(operation, []).append(_reproduction(interaction))
            continue
        status = int(response["status_code"])
        outcome.statuses[status] += 1
        if status >= SERVER_ERROR_STATUS:
            outcome.server_errors.setdefault(operation, []).append(_reproduction(interaction))
    for case_id, case_checks in (recorder.get("checks") or {}).items():
        for check in case_checks:
            if check.get("status") == "failure" and check["name"] != "not_a_server_error":
                failure = (check.get("failure_info") or {}).get("failure") or {}
                operation = failure.get("operation") or label
                interaction = interactions.get(case_id)
                if check["name"] in CONFORMANCE_CHECKS and interaction is not None:
                    found = _reproduction(interaction, failure.get("title", ""))
                    key = f"{check['name']}: {operation}"
                    outcome.unconforming.setdefault(key, []).append(found)
                else:
                    outcome.other_checks[(check["name"], operation)] += 1


def _operation(case: dict[str, Any], label: str) -> str:
    value = case.get("value") or {}
    if value.get("method") and value.get("path"):
        return f"{value['method']} {value['path']}"
    return label


def _reproduction(interaction: dict[str, Any], why: str = "") -> Reproduction:
    response = interaction.get("response") or {}
    headers = response.get("headers") or {}
    request_id = headers.get("x-request-id") or [""]
    curl = _curl(interaction["request"])
    if why:  # what the answer was, and what the check said of it
        kind = (headers.get("content-type") or ["-"])[0]
        curl += f"  # {response.get('status_code')} {kind}: {why}"
    return Reproduction(curl, str(request_id[0]))


def _curl(request: dict[str, Any]) -> str:
    """A curl command that sends the request again; credentials are left to fill in."""
    parts = ["curl", "-sS", "-X", request["method"]]
    for name, values in (request.get("headers") or {}).items():
        if name.lower() in ("user-agent", "accept-encoding", "connection", "content-length"):
            continue
        for value in values if isinstance(values, list) else [values]:
            if name.lower() == "authorization":
                # schemathesis masks it; the run's schemathesis.toml holds each operation's
                value = "$AUTHORIZATION"
            parts += ["-H", f"{name}: {value}"]
    body = _body(request.get("body"))
    if body is not None:
        if len(body) > BODY_SHOWN_MAX_CHARS:
            body = body[:BODY_SHOWN_MAX_CHARS] + f"…(+{len(body) - BODY_SHOWN_MAX_CHARS} chars)"
        parts += ["--data-binary", body]
    parts.append(request["uri"])
    return " ".join(f'"{p}"' if p.startswith("Authorization:") else shlex.quote(p) for p in parts)


def _body(body: Any) -> str | None:
    if body is None:
        return None
    if isinstance(body, dict) and "$base64" in body:
        return base64.b64decode(body["$base64"]).decode("utf-8", "backslashreplace")
    if isinstance(body, dict) and "string" in body:
        return str(body["string"])
    return str(body)


def _log_failures(server_log: Path, slow_ms: float) -> dict[str, str]:
    """request_id → the last line of the traceback of each failed request the server logged
    (a plain traceback outside any request gets a key of its own), or of each request it
    answered after the client's timeout (the client saw no answer: a hang)."""
    found: dict[str, str] = {}
    for number, raw in enumerate(server_log.read_text(errors="replace").split("\n")):
        try:
            line = json.loads(raw)
        except ValueError:
            if raw.startswith("Traceback"):
                found[f"log line {number + 1}"] = raw.strip()[:LAST_LINE_MAX_CHARS]
            continue
        if not isinstance(line, dict):
            continue
        if float(line.get("duration_ms") or 0) > slow_ms:  # the client had given up
            key = str(line.get("request_id"))
            found[key] = f"{line.get('route')} answered {line.get('status')} after the timeout"
            continue
        trace = str(line.get("exception", "")).strip()
        if line.get("event") in LOG_FAILURE_EVENTS or "Traceback" in trace:
            key = str(line.get("request_id") or f"log line {number + 1}")
            found[key] = _raised(trace) if trace else str(line.get("event"))
    return found


def _raised(trace: str) -> str:
    """What a traceback ends with: the exception line after its last frame, with whatever
    follows it (a message may span lines: asyncpg's DETAIL, a character list with a newline)."""
    lines = trace.split("\n")
    frames = [i for i, line in enumerate(lines) if line.startswith("  File ")]
    start = frames[-1] + 1 if frames else 0
    while start < len(lines) and lines[start].startswith(" "):
        start += 1  # the frame's source line and its ^^^ markers
    return " | ".join(lines[start:]).strip()[:LAST_LINE_MAX_CHARS]


def _gating(outcome: Outcome) -> str:
    lines: list[str] = []
    seen = set()
    for title, found in (
        ("5xx", outcome.server_errors),
        ("no answer", outcome.no_answer),
        ("unlike the spec", outcome.unconforming),
    ):
        for operation, cases in sorted(found.items()):
            lines.append(f"{title}: {operation} ({len(cases)} cases; the shortest:)")
            for case in sorted(cases, key=lambda c: len(c.curl))[:SHOWN_PER_OPERATION]:
                lines.append(f"    {case.curl}")
                lines.append(f"      -> {outcome.log_failures.get(case.request_id, '(no log)')}")
            seen |= {case.request_id for case in cases}
    lines += [f"schemathesis error: {error}" for error in outcome.errors]
    unseen = Counter(v for k, v in outcome.log_failures.items() if k not in seen)
    lines += [f"server log, no 5xx seen: {n} x {last}" for last, n in unseen.most_common()]
    return "".join(line + "\n" for line in lines)


def _other(outcome: Outcome) -> str:
    lines = []
    lines.append("statuses: " + ", ".join(f"{s}x{n}" for s, n in sorted(outcome.statuses.items())))
    lines.append("other check failures (not gating):")
    lines += [
        f"    {count:5d}  {check:32s} {operation}"
        for (check, operation), count in sorted(outcome.other_checks.items())
    ]
    return "".join(line + "\n" for line in lines)


def _short(outcome: Outcome, path: Path) -> str:
    per_check: Counter[str] = Counter()
    for (check, _), count in outcome.other_checks.items():
        per_check[check] += count
    checks = ", ".join(f"{check} {count}" for check, count in per_check.most_common())
    return (
        f"fuzz: other check failures (not gating): {checks or 'none'}\n"
        f"fuzz: per operation in {path}"
    )
