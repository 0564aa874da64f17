"""What a suite needs to run: the target, its callers, the profile, and a registry of checks.

A *suite* is a module holding :class:`Check` functions registered on a
:class:`Suite`; a check takes a :class:`Context` and raises
:class:`~contracts.client.ContractViolation` (or any AssertionError) when the
server breaks a rule, or :class:`SkipCheck` when the target cannot be tested
for it (e.g. no admin API). The runner and the pytest integration both drive
the same registry.
"""

from __future__ import annotations

import functools
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import hypothesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import UnsatisfiedAssumption

from contracts.client import ApiClient, Recorder, expect
from contracts.preflight import FALLBACK_REFERENCE_SET

PROFILES = ("quick", "deep")
#: Hypothesis examples per property, by profile
EXAMPLES = {"quick": 20, "deep": 150}
#: model-based run: (examples, steps per example)
MODEL_RUNS = {"quick": (10, 20), "deep": (100, 50)}
#: seconds a property may spend shrinking its first counter-example (every shrink step is a
#: round of HTTP requests; past the budget the smallest failure found so far is reported)
SHRINK_BUDGET = {"quick": 5.0, "deep": 30.0}


class SkipCheck(Exception):
    """The target cannot be tested for this rule (the message says why)."""


@dataclass
class Target:
    """A server under test: where it is and who may call it."""

    base_url: str
    writer_token: str | None = None
    #: token for the mock's admin API (/_mock/...); the writer's when not given
    admin_token: str | None = None
    reader_token: str | None = None
    outsider_token: str | None = None
    readonly_token: str | None = None
    #: the IAM members behind the reader/outsider tokens (needed to grant them roles)
    reader_member: str | None = None
    outsider_member: str | None = None
    project: str | None = None
    profile: str = "quick"
    seed: int | None = None
    #: the server refuses requests without credentials (enables the ignored_auth check)
    strict_auth: bool = False
    #: overrides for the toolkit's own tests: fewer examples, no shrinking
    max_examples: int | None = None
    shrink: bool = True
    #: learned by contracts.preflight.prepare unless given: the reference set annotation sets
    #: name, whether the writer sees every project (else only ``project``), the admin API
    reference_set_id: str | None = None
    writer_sees_all_projects: bool | None = None
    has_admin: bool | None = None
    #: learned on first use (Context.require_variants): None, or why variants cannot be tested
    no_variants: str | None = None
    variants_probed: bool = False


@dataclass
class Stats:
    cases: int = 0
    invariants: int = 0
    #: counter-examples found so far (a property stops at its first; the schema suite counts each)
    failures: int = 0
    operations: set[str] = field(default_factory=set)


#: called after each case with the check's statistics (live progress)
Listener = Callable[[Stats], None]


class Context:
    """Per-check state: callers sharing one recorder, statistics, and resources to clean up."""

    def __init__(
        self, target: Target, recorder: Recorder | None = None, listener: Listener | None = None
    ) -> None:
        self.target = target
        self.recorder = recorder or Recorder()
        self.stats = Stats()
        self.listener = listener
        self.writer = ApiClient(target.base_url, self.recorder, token=target.writer_token, name="writer")
        self.project = target.project or f"contracts-{secrets.token_hex(4)}"
        self._first_failure: float | None = None

    # -- callers ------------------------------------------------------------------------

    def caller(self, role: str) -> ApiClient:
        token = getattr(self.target, f"{role}_token")
        return self.writer.with_token(token, role)

    def anonymous(self) -> ApiClient:
        return self.writer.with_token(None, "anonymous")

    def admin(self) -> ApiClient:
        """The caller of the mock's admin API: ``--admin-token``, else the writer's token."""
        return self.writer.with_token(self.target.admin_token or self.target.writer_token, "admin")

    def project_refusals(self) -> tuple[int, ...]:
        """What the writer may rightly get for a project other than its own: nothing when it sees
        every project (a superuser, or an open server), else 403 (the API's answer to a caller
        without the project permission)."""
        return () if self.target.writer_sees_all_projects is not False else (403,)

    # -- Hypothesis ---------------------------------------------------------------------

    def settings(self, examples: int | None = None, **extra: Any) -> settings:
        """This profile's settings: one bug per property (the first found), shrinking within
        :data:`SHRINK_BUDGET` (see :meth:`past_budget`), no explain phase (more requests)."""
        phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
        if self.target.shrink:
            phases.append(Phase.shrink)
        return settings(
            max_examples=self.target.max_examples or examples or EXAMPLES[self.target.profile],
            phases=phases,
            report_multiple_bugs=False,
            deadline=None,
            derandomize=self.target.seed is None,  # no seed: deterministic runs
            database=None,
            suppress_health_check=list(HealthCheck),
            print_blob=False,
            **extra,
        )

    def case_started(self) -> None:
        """Bookkeeping at the start of each example; rejects it once the shrink budget is spent."""
        if self.past_budget():
            hypothesis.reject()
        self.recorder.clear()
        self.stats.cases += 1
        self.notify()

    def failed(self) -> None:
        """An example failed: start the shrink clock (once) and tell the listener."""
        if self._first_failure is None:
            self._first_failure = time.monotonic()
            self.stats.failures += 1
        self.notify()

    def past_budget(self) -> bool:
        """True once a counter-example was found and the shrink budget is spent, except in the
        final replay (which must run to report the failure). Shrink candidates rejected after
        that leave Hypothesis with the smallest failure found so far, at no network cost."""
        if self._first_failure is None:
            return False
        if time.monotonic() - self._first_failure < SHRINK_BUDGET[self.target.profile]:
            return False
        from hypothesis.control import current_build_context

        try:
            return not current_build_context().is_final
        except Exception:  # noqa: BLE001 - outside a Hypothesis test: nothing to reject
            return False

    def notify(self) -> None:
        if self.listener is not None:
            self.listener(self.stats)

    def given(
        self,
        *strategies: Any,
        examples: int | None = None,
        explicit: Sequence[tuple[Any, ...]] = (),
        **kw: Any,
    ) -> Callable:
        """``@hypothesis.given`` with this profile's settings, the run's seed and per-example bookkeeping.

        ``explicit`` lists argument tuples that run first in every run, whatever the seed or
        the Hypothesis version: the cases a check must always reach (several pages of
        distinct items at an odd and an even page size, a readable container sorted before
        a hidden one, ...). Random examples then explore around them.
        """

        def decorate(fn: Callable) -> Callable:
            @functools.wraps(fn)
            def body(*args: Any, **kwargs: Any) -> None:
                self.case_started()
                try:
                    fn(*args, **kwargs)
                except Exception:
                    self.failed()
                    raise

            test = hypothesis.given(*strategies, **kw)(body)
            for args in reversed(explicit):
                test = hypothesis.example(*args)(test)
            test = self.settings(examples)(test)
            if self.target.seed is not None:
                test = hypothesis.seed(self.target.seed)(test)
            return test

        return decorate

    def checked(self, n: int = 1) -> None:
        """Count invariant evaluations (shown in the summary; a check that counts none fails)."""
        self.stats.invariants += n

    def teardown_example(self) -> None:
        """Call from a state machine's teardown: notes a failing example (the exception in flight)."""
        exc = sys.exc_info()[1]
        if isinstance(exc, Exception) and not isinstance(exc, UnsatisfiedAssumption):
            self.failed()

    def covers(self, *operations: str) -> None:
        self.stats.operations.update(operations)

    # -- resources ----------------------------------------------------------------------

    def new_dataset(self, name: str = "contracts", project: str | None = None) -> str:
        body = expect(
            self.writer.post("/v1/datasets", {"projectId": project or self.project, "name": name}),
            200,
            rule="datasets.create with a valid body",
        )
        return body["id"]

    def new_annotation_set(self, dataset_id: str, type_: str = "GENERIC", **fields: Any) -> dict[str, Any]:
        body = {
            "datasetId": dataset_id,
            "referenceSetId": fields.pop("referenceSetId", self.reference_set_id),
            "type": type_,
            "name": "contracts",
            **fields,
        }
        return expect(self.writer.post("/v1/annotationsets", body), 200, rule="annotationsets.create")

    @property
    def reference_set_id(self) -> str:
        """The reference set annotation sets are created against (one the target knows)."""
        return self.target.reference_set_id or FALLBACK_REFERENCE_SET

    def require_variants(self) -> None:
        """Skip the check (SkipCheck, with the reason) on a target that serves no variants.

        An empty ``variants/search`` is a 400 naming a missing field on a server that has the
        method; a 404 (no such path), 405 or 501 (UNIMPLEMENTED) means it has not."""
        if not self.target.variants_probed:
            answer = self.writer.post("/v1/variants/search", {})
            if answer.status_code in (404, 405, 501):
                said = answer.status_code
                self.target.no_variants = f"the target serves no variants (POST /v1/variants/search: {said})"
            self.target.variants_probed = True
        if self.target.no_variants:
            raise SkipCheck(self.target.no_variants)

    def new_variant_set(self, dataset_id: str, call_sets: int = 0) -> tuple[str, list[str]]:
        """A variant set on the suites' reference set, and ``call_sets`` call sets in it."""
        body = {"datasetId": dataset_id, "referenceSetId": self.reference_set_id, "name": "contracts"}
        set_id = expect(self.writer.post("/v1/variantsets", body), 200, rule="variantsets.create")["id"]
        made = [
            expect(
                self.writer.post("/v1/callsets", {"variantSetIds": [set_id], "name": f"sample-{i}"}),
                200,
                rule="callsets.create",
            )["id"]
            for i in range(call_sets)
        ]
        return set_id, made

    def has_admin(self) -> bool:
        """Whether the target is the mock with its admin API (/_mock/) reachable."""
        if self.target.has_admin is None:
            try:
                self.target.has_admin = self.writer.get("/_mock/health").status_code == 200
            except Exception:  # noqa: BLE001 - any failure means "no admin API"
                self.target.has_admin = False
        return self.target.has_admin

    def cleanup(self) -> None:
        """Delete every dataset created during the check (by any caller); their contents go with them."""
        for dataset_id in self.recorder.created_datasets:
            try:
                self.writer.delete(f"/v1/datasets/{dataset_id}")
            except Exception:  # noqa: BLE001 - best effort
                pass
        self.recorder.created_datasets.clear()


def variant_body(
    set_id: str, reference: str, start: int, end: int, calls: dict[str, list[int]]
) -> dict[str, Any]:
    """A variants.create body (one SNP, N>A) with a call per call set in ``calls`` (id -> genotype)."""
    return {
        "variantSetId": set_id,
        "referenceName": reference,
        "start": str(start),
        "end": str(end),
        "referenceBases": "N",
        "alternateBases": ["A"],
        "calls": [{"callSetId": c, "genotype": genotype} for c, genotype in calls.items()],
    }


@dataclass
class Check:
    suite: str
    name: str
    doc: str
    fn: Callable[[Context], None]

    @property
    def id(self) -> str:
        return f"{self.suite}::{self.name}"


class Suite:
    """A named group of checks (one module)."""

    registry: dict[str, Suite] = {}

    def __init__(self, name: str, description: str) -> None:
        self.name = name
        self.description = description
        self.checks: list[Check] = []
        Suite.registry[name] = self

    def check(self, fn: Callable[[Context], None]) -> Callable[[Context], None]:
        self.checks.append(Check(self.name, fn.__name__, (fn.__doc__ or "").strip().split("\n")[0], fn))
        return fn


SUITE_MODULES = ("schema", "pagination", "permissions", "fields", "model")


def load_suites(names: list[str] | None = None) -> list[Suite]:
    """Import the suite modules (in the documented order) and return the chosen suites."""
    import importlib

    for module in SUITE_MODULES:
        importlib.import_module(f"contracts.{module}")
    chosen = names or list(SUITE_MODULES)
    unknown = [n for n in chosen if n not in Suite.registry]
    if unknown:
        raise ValueError(f"unknown suite(s): {', '.join(unknown)}; known: {', '.join(SUITE_MODULES)}")
    return [Suite.registry[n] for n in chosen]


def iter_checks(names: list[str] | None = None) -> Iterator[Check]:
    for suite in load_suites(names):
        yield from suite.checks
