"""Behaviour on demand: injected faults, per-model quotas and scripted answers.

All three are pure bookkeeping consulted by the ASGI shell once it knows a request's model,
method (rawPredict / streamRawPredict) and operation (chat / fim / ocr):

- :class:`FaultBook` turns the active :class:`Fault` rules into one :class:`Plan` per request
  (a status to inject, latency, per-chunk delay, a cut stream, a missing ``[DONE]``, a hang).
  Rates draw from a seeded RNG, so a run is repeatable.
- :class:`QuotaBook` keeps sliding one-minute windows per (project, region, base model) on an
  injectable clock and answers with Google's 429 quota message. Off unless enabled.
- :class:`ScriptBook` maps the last user message (regex or callable) to a reply.

Fault rules are written as keyword arguments in Python, JSON objects over the admin
endpoint, and ``key=value,key=value`` strings on the command line (:meth:`Fault.parse`).
"""

from __future__ import annotations

import random
import re
import threading
from collections import deque
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable, Iterable, Mapping, Union

from . import rpc
from .catalogue import Catalogue

INJECTABLE = frozenset({400, 401, 403, 404, 408, 429, 500, 502, 503, 504})
METHODS = frozenset({"rawPredict", "streamRawPredict"})
OPERATIONS = frozenset({"chat", "fim", "ocr"})


@dataclass
class Fault:
    """One rule. Scope fields (``model``, ``method``, ``operation``, ``region``) left None match anything.

    ``times`` counts the requests the rule still applies to (None: forever); ``rate`` is the
    chance it applies to a matching request.
    """

    status: int | None = None
    message: str | None = None
    rate: float = 1.0
    times: int | None = None
    latency_ms: float = 0.0
    chunk_delay_ms: float = 0.0
    cut_after: int | None = None
    no_done: bool = False
    hang: bool = False
    model: str | None = None
    method: str | None = None
    operation: str | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in INJECTABLE:
            raise ValueError(f"status must be one of {sorted(INJECTABLE)}, not {self.status}")
        if self.method is not None and self.method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}")
        if self.operation is not None and self.operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {sorted(OPERATIONS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "Fault":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault option(s): {', '.join(sorted(unknown))}")
        return cls(**data)

    @classmethod
    def parse(cls, spec: str) -> "Fault":
        """``"status=503,times=2,model=codestral-2"`` → Fault (the CLI form)."""
        types = {f.name: f.type for f in fields(cls)}
        data: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, _, value = item.partition("=")
            kind = str(types.get(name, "str"))
            if "bool" in kind:
                data[name] = value.lower() in ("", "1", "true", "yes")
            elif "int" in kind:
                data[name] = int(value)
            elif "float" in kind:
                data[name] = float(value)
            else:
                data[name] = value
        return cls.from_mapping(data)

    def matches(self, model: str, method: str, operation: str, region: str | None = None) -> bool:
        return (
            (self.model is None or self.model == model)
            and (self.method is None or self.method == method)
            and (self.operation is None or self.operation == operation)
            and (self.region is None or self.region == region)
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    """What to do to one request, merged from every rule that fired."""

    problem: rpc.Problem | None = None
    latency: float = 0.0
    chunk_delay: float = 0.0
    cut_after: int | None = None
    no_done: bool = False
    hang: bool = False

    @property
    def plain_stream(self) -> bool:
        """True when chunks can be batched: no delay, no cut, nothing missing."""
        return not (self.chunk_delay or self.cut_after is not None or self.no_done)


NO_FAULTS = Plan()


class FaultBook:
    """The active rules. Thread-safe: tests add rules while the server thread reads them."""

    def __init__(self, seed: int | None = 0, rules: Iterable[Fault] = ()) -> None:
        self._rules: list[Fault] = list(rules)
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(seed)

    def add(self, fault: Fault | None = None, **options: Any) -> Fault:
        rule = fault if fault is not None else Fault(**options)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._rng.seed(self._seed)

    def __len__(self) -> int:
        return len(self._rules)

    def __iter__(self):
        return iter(list(self._rules))

    def plan(self, model: str, method: str, operation: str, region: str | None = None) -> Plan:
        if not self._rules:
            return NO_FAULTS
        fired: list[Fault] = []
        with self._lock:
            has_status = False
            for rule in self._rules:
                if not rule.matches(model, method, operation, region):
                    continue
                if rule.status is not None and has_status:
                    continue  # one status per request: later status rules queue up behind this one
                if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                    continue
                has_status = has_status or rule.status is not None
                fired.append(rule)
                if rule.times is not None:
                    rule.times -= 1
            self._rules = [r for r in self._rules if r.times is None or r.times > 0]
        if not fired:
            return NO_FAULTS
        status = next((r for r in fired if r.status is not None), None)
        cuts = [r.cut_after for r in fired if r.cut_after is not None]
        return Plan(
            problem=rpc.from_status(status.status, status.message) if status and status.status else None,
            latency=sum(r.latency_ms for r in fired) / 1000,
            chunk_delay=max(r.chunk_delay_ms for r in fired) / 1000,
            cut_after=min(cuts) if cuts else None,
            no_done=any(r.no_done for r in fired),
            hang=any(r.hang for r in fired),
        )


# ---------------------------------------------------------------- quotas


@dataclass(frozen=True)
class Limits:
    qpm: int | None
    tpm: int | None


class QuotaBook:
    """Sliding one-minute windows of (time, tokens) per (project, region, base model)."""

    WINDOW = 60.0

    def __init__(self, catalogue: Catalogue, clock: Callable[[], float], enabled: bool = False) -> None:
        self.catalogue = catalogue
        self.clock = clock
        self.enabled = enabled
        self._overrides: dict[str, Limits] = {}
        self._windows: dict[tuple[str, str, str], deque[tuple[float, int]]] = {}

    def set_limit(self, model: str, qpm: int | None = None, tpm: int | None = None) -> None:
        """Override the catalogue's limits for ``model`` (and switch quotas on)."""
        self._overrides[model] = Limits(qpm, tpm)
        self.enabled = True

    def limits(self, model: str) -> Limits:
        if model in self._overrides:
            return self._overrides[model]
        spec = self.catalogue.get(model)
        return Limits(spec.qpm, spec.input_tpm) if spec else Limits(None, None)

    def reset(self) -> None:
        self._windows.clear()

    def charge(self, project: str, region: str, model: str, tokens: int) -> rpc.Problem | None:
        """Count one request of ``tokens`` input tokens, or return the 429 if over a limit."""
        if not self.enabled:
            return None
        limits = self.limits(model)
        now = self.clock()
        window = self._windows.setdefault((project, region, model), deque())
        while window and window[0][0] <= now - self.WINDOW:
            window.popleft()
        if limits.qpm is not None and len(window) >= limits.qpm:
            return rpc.quota_exceeded(model)
        if limits.tpm is not None and sum(t for _, t in window) + tokens > limits.tpm:
            return rpc.quota_exceeded(model, tokens=True)
        window.append((now, tokens))
        return None


# ---------------------------------------------------------------- scripted answers

Reply = Union[str, dict, list]
Matcher = Union[str, "re.Pattern[str]", Callable[[dict], Any]]


def last_user_text(body: Mapping[str, Any]) -> str:
    """The text of the last user message (chat), else the FIM prompt, else ""."""
    for message in reversed(body.get("messages") or ()):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(c.get("text", "") for c in content if isinstance(c, dict))
            return content if isinstance(content, str) else ""
    prompt = body.get("prompt")
    return prompt if isinstance(prompt, str) else ""


@dataclass
class Script:
    matcher: Matcher
    reply: Reply | None
    model: str | None = None

    def answer(self, body: dict, model: str) -> Reply | None:
        if self.model is not None and self.model != model:
            return None
        if callable(self.matcher) and not isinstance(self.matcher, re.Pattern):
            found = self.matcher(body)
            return found if self.reply is None else (self.reply if found else None)
        pattern = self.matcher if isinstance(self.matcher, re.Pattern) else re.compile(self.matcher)
        return self.reply if pattern.search(last_user_text(body)) else None


class ScriptBook:
    """Scripted replies, first match wins; a string reply becomes the generated text."""

    def __init__(self) -> None:
        self._scripts: list[Script] = []

    def add(self, matcher: Matcher, reply: Reply | None = None, *, model: str | None = None) -> Script:
        if isinstance(matcher, str):
            matcher = re.compile(matcher)
        script = Script(matcher, reply, model)
        self._scripts.append(script)
        return script

    def clear(self) -> None:
        self._scripts.clear()

    def answer(self, body: dict, model: str) -> Reply | None:
        for script in list(self._scripts):
            found = script.answer(body, model)
            if found is not None:
                return found
        return None

    def __bool__(self) -> bool:
        return bool(self._scripts)
