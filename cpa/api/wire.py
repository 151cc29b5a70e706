"""How a JSON body is refused: every field at fault at once, each named by its JSONPath
(``$.amount_cents``, ``$.activity[2].year``, as the simulation names them), in words a partner's
developer can act on ("too long: at most 200 characters", not "required").

msgspec stops at the first error of a document. When a body does not decode, each of its
fields is decoded again on its own, strictly, so that the answer lists them all: a number sent
as a string (``"100"``) is named too, also on a route that would coerce it were it alone
(money routes never do: ``Call.strictly``); send numbers as numbers.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from cpa.errors import InvalidInput

ErrorList = list[dict[str, str]]

_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_OUT_OF_RANGE = ("too small", "too large")
_NAMED = re.compile(r"Object (?:missing required field|contains unknown field) `(.+)`")
_WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Expected `str` of length <= (\d+)"), r"too long: at most \1 characters"),
    (re.compile(r"Expected `str` of length >= (\d+)"), r"too short: at least \1 characters"),
    (re.compile(r"Expected `array` of length <= (\d+)"), r"too many items: at most \1"),
    (re.compile(r"Expected `array` of length >= (\d+)"), r"too few items: at least \1"),
    (re.compile(r"Expected `(?:int|number)` <= (\S+)"), r"too large: at most \1"),
    (re.compile(r"Expected `(?:int|number)` >= (\S+)"), r"too small: at least \1"),
    (re.compile(r"Expected `(?:int|number)` < (\S+)"), r"too large: less than \1"),
    (re.compile(r"Expected `(?:int|number)` > (\S+)"), r"too small: more than \1"),
)


def humane(message: str) -> str:
    """msgspec's message for one field, in words (its path is given apart)."""
    for pattern, words in _WORDS:
        if pattern.fullmatch(message):
            return pattern.sub(words, message)
    return message


def field_error(error: msgspec.ValidationError, at: str = "$") -> dict[str, str]:
    """One msgspec error as ``{field, message}``: its path appended to ``at``."""
    message = str(error)
    found = _AT.search(message)
    path = at
    if found:
        message = message[: found.start()]
        path = at + found["path"]
    named = re.fullmatch(
        r"Object (?:missing required field|contains unknown field) `(.+)`", message
    )
    if named:  # the field itself is at fault, not the object holding it
        path = f"{path}.{named[1]}"
        message = "required" if "missing" in message else "unknown field"
    return {"field": path, "message": humane(message)}


def field_errors(raw: bytes, type_: type[msgspec.Struct]) -> ErrorList:
    """Every field of ``raw`` (a JSON object) that ``type_`` refuses, strictly; ``[]`` when
    none does (the whole may still be refused: a field that is a Struct of its own is checked
    whole, its first error named)."""
    try:
        document = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return [{"field": "$", "message": "not valid JSON"}]
    if not isinstance(document, dict):
        return [{"field": "$", "message": f"expected an object, got {_kind(document)}"}]
    fields = msgspec.structs.fields(type_)
    known = {field.encode_name for field in fields}
    errors: ErrorList = []
    if type_.__struct_config__.forbid_unknown_fields:
        errors += [
            {"field": f"$.{k}", "message": "unknown field"} for k in document if k not in known
        ]
    for field in fields:
        at = f"$.{field.encode_name}"
        if field.encode_name not in document:
            if field.required:
                errors.append({"field": at, "message": "required"})
            continue
        try:
            msgspec.convert(document[field.encode_name], type=field.type, strict=True)
        except msgspec.ValidationError as error:
            errors.append(field_error(error, at))
    return errors


def refused(errors: ErrorList, type_: type[msgspec.Struct] | None = None) -> InvalidInput:
    """The 422 problem for ``errors``: its detail names the first and counts the others. A
    Struct may name a problem of its own for a field out of its range (``field_problems``, a
    class variable: an amount too small or too large is ``invalid-amount``, as the ledger
    says when it finds it; an amount of the wrong type stays ``invalid-input``)."""
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    own: dict[str, type[InvalidInput]] = getattr(type_, "field_problems", {})
    kinds = {
        own.get(error["field"].removeprefix("$."), InvalidInput)
        if error["message"].startswith(_OUT_OF_RANGE)
        else InvalidInput
        for error in errors
    }
    problem = kinds.pop() if len(kinds) == 1 else InvalidInput
    return problem(f"{first['field']}: {first['message']}{more}", errors=errors)


def _kind(value: Any) -> str:
    return {str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), "an array" if isinstance(value, list) else "null"
    )
