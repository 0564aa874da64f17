"""Scripted failures: rules that make matching requests slow, fail, or vanish.

A client's retry and back-off logic is tested by telling the mock what to do
to the next requests (``POST /_mock/faults``)::

    {"operationId": "genomics.datasets.get", "action": "unavailable", "count": 1}
    {"path": "/v1/annotations", "method": "POST", "action": "rateLimit", "retryAfter": 2}
    {"operationId": "genomics.datasets.list", "action": "latency", "minMs": 50, "maxMs": 200,
     "probability": 0.5, "seed": 7}
    {"path": "/v1/", "action": "error", "code": 500, "message": "backend exploded"}
    {"operationId": "genomics.reads.search", "action": "drop", "count": 1}

Matching: ``operationId`` (exact) and/or ``path`` (prefix of the URL path),
optionally narrowed by ``method``; at least one of the first two is required.
Actions: ``latency`` (``fixedMs`` or ``minMs``..``maxMs``, then the request
runs normally), ``error`` (``code``, optional ``status``/``message``: Google's
error body), ``rateLimit`` (429 ``RESOURCE_EXHAUSTED`` with ``Retry-After``),
``unavailable`` (503 ``UNAVAILABLE``, ``Retry-After`` when given), ``drop``
(the connection is closed with no response at all).
``count`` limits how many requests the rule fires on; ``probability`` (with
``seed``) fires it on a deterministic pseudo-random subset. Rules are checked
in the order they were added; the first that fires wins.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mockserver.errors import RPC_CODE, ApiError, status_for_http

ACTIONS = ("latency", "error", "rateLimit", "unavailable", "drop")
RULE_FIELDS = frozenset(
    {"operationId", "path", "method", "action", "fixedMs", "minMs", "maxMs", "code", "status",
     "message", "retryAfter", "count", "probability", "seed"}
)
MAX_LATENCY_MS = 60_000


class FaultRuleError(ValueError):
    """A rule that does not parse (the message names the field)."""


@dataclass
class FaultRule:
    id: str
    action: str
    operation_id: str | None = None
    path: str | None = None
    method: str | None = None
    min_ms: int = 0
    max_ms: int = 0
    code: int = 0
    status: str = ""
    message: str = ""
    retry_after: int | None = None
    count: int | None = None
    probability: float = 1.0
    seed: int | None = None
    hits: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def matches(self, method: str, path: str, operation_id: str | None) -> bool:
        if self.method is not None and self.method != method:
            return False
        if self.operation_id is not None and self.operation_id != operation_id:
            return False
        return self.path is None or path.startswith(self.path)

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.hits >= self.count

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "action": self.action, "hits": self.hits}
        for key, value in (
            ("operationId", self.operation_id),
            ("path", self.path),
            ("method", self.method),
            ("count", self.count),
            ("seed", self.seed),
            ("retryAfter", self.retry_after),
        ):
            if value is not None:
                out[key] = value
        if self.probability != 1.0:
            out["probability"] = self.probability
        if self.action == "latency":
            out.update({"minMs": self.min_ms, "maxMs": self.max_ms})
        if self.action == "error":
            out.update({"code": self.code, "status": self.status, "message": self.message})
        if self.count is not None:
            out["remaining"] = max(0, self.count - self.hits)
        return out

    def error(self) -> ApiError:
        """The error this rule answers with (not for ``latency``/``drop``)."""
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        if self.action == "rateLimit":
            return ApiError(
                "RESOURCE_EXHAUSTED", self.message or "Quota exceeded (injected fault)", headers=headers
            )
        if self.action == "unavailable":
            return ApiError(
                "UNAVAILABLE", self.message or "The service is currently unavailable (injected fault)",
                headers=headers,
            )
        return ApiError(self.status, self.message or f"Injected fault ({self.status})",
                        http_code=self.code, headers=headers)


@dataclass(frozen=True)
class Fault:
    """What to do to one request: sleep first, then answer an error, drop, or run normally."""

    delay: float = 0.0
    error: ApiError | None = None
    drop: bool = False


def _int(rule: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = rule.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FaultRuleError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def _str(rule: Mapping[str, Any], name: str) -> str | None:
    value = rule.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise FaultRuleError(f"{name} must be a non-empty string, got {value!r}")
    return value


def parse_rule(rule: Any, rule_id: str) -> FaultRule:
    """A checked :class:`FaultRule`, or :class:`FaultRuleError` naming what is wrong."""
    if not isinstance(rule, Mapping):
        raise FaultRuleError("a fault rule must be a JSON object")
    unknown = set(rule) - RULE_FIELDS
    if unknown:
        raise FaultRuleError(f"unknown fault rule fields: {', '.join(sorted(map(str, unknown)))}")
    action = rule.get("action")
    if action not in ACTIONS:
        raise FaultRuleError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    operation_id, path, method = _str(rule, "operationId"), _str(rule, "path"), _str(rule, "method")
    if operation_id is None and path is None:
        raise FaultRuleError("a fault rule needs operationId or path to match requests")
    if path is not None and not path.startswith("/"):
        raise FaultRuleError(f"path must start with '/', got {path!r}")
    out = FaultRule(rule_id, action, operation_id, path, method.upper() if method else None)
    out.count = _int(rule, "count", 1, 10**9)
    out.seed = _int(rule, "seed", -(2**63), 2**63)
    probability = rule.get("probability", 1.0)
    if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 < probability <= 1:
        raise FaultRuleError(f"probability must be a number in (0, 1], got {probability!r}")
    out.probability = float(probability)
    out.rng = random.Random(out.seed)
    out.retry_after = _int(rule, "retryAfter", 0, 86_400)
    if action == "rateLimit" and out.retry_after is None:
        out.retry_after = 1
    out.message = _str(rule, "message") or ""
    if action == "latency":
        fixed = _int(rule, "fixedMs", 0, MAX_LATENCY_MS)
        low, high = _int(rule, "minMs", 0, MAX_LATENCY_MS), _int(rule, "maxMs", 0, MAX_LATENCY_MS)
        if fixed is not None:
            if low is not None or high is not None:
                raise FaultRuleError("latency takes fixedMs or minMs/maxMs, not both")
            out.min_ms = out.max_ms = fixed
        elif low is None or high is None:
            raise FaultRuleError("latency needs fixedMs, or both minMs and maxMs")
        else:
            out.min_ms, out.max_ms = low, high
        if out.min_ms > out.max_ms:
            raise FaultRuleError(f"minMs ({out.min_ms}) must not exceed maxMs ({out.max_ms})")
    elif action == "error":
        code = _int(rule, "code", 400, 599)
        if code is None:
            raise FaultRuleError("an error fault needs code (an HTTP status from 400 to 599)")
        out.code = code
        status = _str(rule, "status")
        if status is not None and (status not in RPC_CODE or status == "OK"):
            raise FaultRuleError(f"status must be a canonical error status (e.g. INTERNAL), got {status!r}")
        out.status = status or _default_status(code)
    return out


def _default_status(code: int) -> str:
    return status_for_http(code)


class FaultInjector:
    """The active rules of one server (thread-safe: the admin API and requests share it)."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def add(self, rules: Any) -> list[dict[str, Any]]:
        """Add one rule or a list (all parsed before any is added)."""
        items = rules if isinstance(rules, list) else [rules]
        if not items:
            raise FaultRuleError("no fault rules given")
        with self._lock:
            parsed = []
            for i, item in enumerate(items):
                try:
                    parsed.append(parse_rule(item, f"f{next(self._ids)}"))
                except FaultRuleError as exc:
                    where = f"rules[{i}]: " if isinstance(rules, list) else ""
                    raise FaultRuleError(f"{where}{exc}") from None
            self._rules.extend(parsed)
            return [rule.as_json() for rule in parsed]

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.as_json() for rule in self._rules]

    def clear(self, rule_id: str | None = None) -> bool:
        with self._lock:
            if rule_id is None:
                self._rules.clear()
                return True
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    def __bool__(self) -> bool:
        return bool(self._rules)

    def pick(self, method: str, path: str, operation_id: str | None) -> Fault | None:
        """The fault for this request, if a rule fires (counts and random draws advance here)."""
        if not self._rules:
            return None
        with self._lock:
            for rule in self._rules:
                if rule.exhausted or not rule.matches(method, path, operation_id):
                    continue
                if rule.probability < 1.0 and rule.rng.random() >= rule.probability:
                    continue
                rule.hits += 1
                if rule.action == "latency":
                    low, high = rule.min_ms, rule.max_ms
                    delay = rule.rng.uniform(low, high) if high > low else low
                    return Fault(delay=delay / 1000.0)
                if rule.action == "drop":
                    return Fault(drop=True)
                return Fault(error=rule.error())
        return None
