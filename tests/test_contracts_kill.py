"""The contract suites must bite: each deliberately broken mock is caught by the right suite.

Each mutant breaks one rule of the mock by monkeypatching its backend (the
suites themselves still see only HTTP); the suite responsible for that rule
must fail, and on the unbroken mock every suite passes (see
tests/test_contracts_pass.py). Kill count = mutants caught / mutants tried,
printed in pytest's summary (tests/conftest.py counts the reports, so it holds under
pytest-xdist too).

Runs with fewer Hypothesis examples and no shrinking (``Target.max_examples``,
``Target.shrink``): a mutant needs one counterexample, not the minimal one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from contracts.core import Target
from contracts.local import local_mock
from contracts.runner import Report, run_suites
from mockserver.app import create_app
from mockserver.auth import TokenRegistry
from mockserver.backend import base, paging
from mockserver.backend.annotations import Annotations
from mockserver.backend.annotationsets import AnnotationSets
from mockserver.backend.datasets import Datasets
from mockserver.backend.iam import Iam
from mockserver.backend.variants import Variants
from mockserver.backend.variantsets import VariantSets
from mockserver.errors import ApiError

Mutant = Callable[[pytest.MonkeyPatch], None]


def drop_last_item(mp: pytest.MonkeyPatch) -> None:
    """Every page but the last loses its last item (the token still points past it)."""
    original = paging.Paginator.page

    def page(self: Any, *args: Any, **kwargs: Any) -> Any:
        items, token = original(self, *args, **kwargs)
        return (items[:-1], token) if token and items else (items, token)

    mp.setattr(paging.Paginator, "page", page)


def order_depends_on_page_size(mp: pytest.MonkeyPatch) -> None:
    """Even page sizes return each page reversed."""
    original = paging.Paginator.page

    def page(self: Any, method: str, query: Any, *, size: int, **kwargs: Any) -> Any:
        items, token = original(self, method, query, size=size, **kwargs)
        return (list(reversed(items)) if size % 2 == 0 else items), token

    mp.setattr(paging.Paginator, "page", page)


def token_not_bound(mp: pytest.MonkeyPatch) -> None:
    """Page tokens no longer carry the filters of their query."""
    mp.setattr(paging, "_canonical", lambda query: {})


def missing_write_check(mp: pytest.MonkeyPatch) -> None:
    """annotationsets.update forgets its permission check."""
    original = Iam.authorize

    def authorize(self: Any, principal: Any, permission: str, resource: str, **kwargs: Any) -> None:
        if permission == "genomics.annotationSets.update":
            return None
        return original(self, principal, permission, resource, **kwargs)

    mp.setattr(Iam, "authorize", authorize)


def leaky_search(mp: pytest.MonkeyPatch) -> None:
    """annotationsets.search authorizes only the first dataset it names."""
    original_search, original_authorize = AnnotationSets.search, Iam.authorize
    checked: list[str] = []

    def search(self: Any, principal: Any, body: Any) -> Any:
        checked.clear()
        return original_search(self, principal, body)

    def authorize(self: Any, principal: Any, permission: str, resource: str, **kwargs: Any) -> None:
        if permission == "genomics.annotationSets.list":
            checked.append(resource)
            if len(checked) > 1:
                return None
        return original_authorize(self, principal, permission, resource, **kwargs)

    mp.setattr(AnnotationSets, "search", search)
    mp.setattr(Iam, "authorize", authorize)


def missing_required_field(mp: pytest.MonkeyPatch) -> None:
    """annotationsets.create no longer requires referenceSetId (it defaults to GRCh38)."""
    original = AnnotationSets.create

    def create(self: Any, principal: Any, body: Any) -> Any:
        if isinstance(body, dict) and not body.get("referenceSetId"):
            body = {**body, "referenceSetId": "EMud_c37lKPXTQ"}
        return original(self, principal, body)

    mp.setattr(AnnotationSets, "create", create)


def ignored_update_mask(mp: pytest.MonkeyPatch) -> None:
    """Every update applies all mutable fields, whatever updateMask says."""

    def parse(mask: Any, mutable: Any, *, method: str = "update") -> list[str]:
        return list(mutable)

    mp.setattr(base, "parse_update_mask", parse)  # every update goes through Component.update


def server_error(mp: pytest.MonkeyPatch) -> None:
    """variantsets.search crashes (500) on bodies naming datasetIds."""
    original = VariantSets.search

    def search(self: Any, principal: Any, body: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(body, dict) and "datasetIds" in body:
            raise RuntimeError("deliberate crash")
        return original(self, principal, body, *args, **kwargs)

    mp.setattr(VariantSets, "search", search)


def wrong_response_type(mp: pytest.MonkeyPatch) -> None:
    """datasets.create answers createTime as a JSON number instead of an RFC 3339 string."""
    original = Datasets.create

    def create(self: Any, principal: Any, body: Any) -> Any:
        return {**original(self, principal, body), "createTime": 1234567890}

    mp.setattr(Datasets, "create", create)


def existence_leak(mp: pytest.MonkeyPatch) -> None:
    """A caller holding nothing on a dataset gets 403 (which says it exists) instead of 404."""
    mp.setattr(Iam, "can_see", lambda self, principal, resource: True)


def mask_ignored_by_annotations(mp: pytest.MonkeyPatch) -> None:
    """annotations.update alone ignores updateMask: every mutable field in the body is applied."""
    original = Annotations.update

    def update(self: Any, principal: Any, item_id: str, body: Any, update_mask: Any = None) -> Any:
        return original(self, principal, item_id, body, None)

    mp.setattr(Annotations, "update", update)


def int64_as_numbers(mp: pytest.MonkeyPatch) -> None:
    """Annotations answer start/end as JSON numbers instead of decimal strings."""
    original = Annotations._render

    def render(record: Any, set_record: Any) -> Any:
        out = original(record, set_record)
        return {k: int(v) if k in ("start", "end") else v for k, v in out.items()}

    mp.setattr(Annotations, "_render", staticmethod(render))


def page_repeats_an_item(mp: pytest.MonkeyPatch) -> None:
    """Each page after the first starts with the last item of the page before (in place of its own)."""
    original = paging.Paginator.page
    last_of: dict[str, Any] = {}

    def page(self: Any, method: str, query: Any, *, page_token: Any, **kwargs: Any) -> Any:
        items, token = original(self, method, query, page_token=page_token, **kwargs)
        if page_token in last_of and items:
            items = [last_of[page_token], *items[1:]]
        if token and items:
            last_of[token] = items[-1]
        return items, token

    mp.setattr(paging.Paginator, "page", page)


def create_without_project(mp: pytest.MonkeyPatch) -> None:
    """datasets.create accepts a body without projectId (files it under a default project)."""
    original = Datasets.create

    def create(self: Any, principal: Any, body: Any) -> Any:
        if isinstance(body, dict) and not body.get("projectId"):
            body = {**body, "projectId": "defaulted"}
        return original(self, principal, body)

    mp.setattr(Datasets, "create", create)


def errors_without_envelope(mp: pytest.MonkeyPatch) -> None:
    """Errors answer a bare {"message": ...} instead of Google's {"error": {code, message, status}}."""
    mp.setattr(ApiError, "body", lambda self: {"message": self.message})


def token_on_the_last_page(mp: pytest.MonkeyPatch) -> None:
    """The last page carries a nextPageToken, which leads to an empty final page."""
    original = paging.Paginator.page
    issued: set[str] = set()

    def page(self: Any, method: str, query: Any, *, page_token: Any, **kwargs: Any) -> Any:
        if page_token in issued:
            return [], None
        items, token = original(self, method, query, page_token=page_token, **kwargs)
        if token is None and items:
            token = f"past-the-end-{len(issued)}"
            issued.add(token)
        return items, token

    mp.setattr(paging.Paginator, "page", page)


def token_ignores_a_filter(mp: pytest.MonkeyPatch) -> None:
    """Page tokens are bound to every filter but annotationSetIds."""
    original = paging._canonical

    def canonical(query: Any) -> dict[str, Any]:
        return {k: v for k, v in original(query).items() if k != "annotationSetIds"}

    mp.setattr(paging, "_canonical", canonical)


def search_ignores_call_set_ids(mp: pytest.MonkeyPatch) -> None:
    """variants.search naming a variant set ignores callSetIds: every variant, with all its calls."""
    original = Variants.search

    def search(self: Any, principal: Any, body: Any) -> Any:
        if isinstance(body, dict) and body.get("variantSetIds"):
            body = {k: v for k, v in body.items() if k != "callSetIds"}
        return original(self, principal, body)

    mp.setattr(Variants, "search", search)


def call_set_delete_keeps_calls(mp: pytest.MonkeyPatch) -> None:
    """Deleting a call set leaves its calls in the variants of its set."""
    mp.setattr(Variants, "drop_call_set", lambda self, set_id, call_set_id: None)


def dataset_delete_destroys_variants(mp: pytest.MonkeyPatch) -> None:
    """A dataset's soft delete drops the variants of its variant sets: undelete cannot bring them back."""
    original = Datasets.remove

    def remove(self: Any, record: Any) -> None:
        for group in self.backend.variant_sets.groups([record["id"]]):
            for set_id in group or ():
                self.backend.variants.drop_variant_set(set_id)
        original(self, record)

    mp.setattr(Datasets, "remove", remove)


MUTANTS: dict[str, tuple[Mutant, str]] = {
    "page drops its last item": (drop_last_item, "pagination"),
    "order depends on page size": (order_depends_on_page_size, "pagination"),
    "token not bound to its query": (token_not_bound, "pagination"),
    "missing permission check on one write": (missing_write_check, "permissions"),
    "search leaks an unreadable set": (leaky_search, "permissions"),
    "missing required-field check": (missing_required_field, "fields"),
    "ignored updateMask": (ignored_update_mask, "fields"),
    # beyond the list: the schema suite bites too
    "server error on one operation": (server_error, "schema"),
    "int64/timestamp field of the wrong JSON type": (wrong_response_type, "schema"),
    # issue 13
    "existence leak: 403 instead of 404 for outsiders": (existence_leak, "permissions"),
    "updateMask ignored by one resource": (mask_ignored_by_annotations, "fields"),
    "int64 fields as JSON numbers": (int64_as_numbers, "fields"),
    "a page repeats an item of the previous page": (page_repeats_an_item, "pagination"),
    "a create accepted without a required field": (create_without_project, "fields"),
    "errors without the Google envelope": (errors_without_envelope, "schema"),
    "nextPageToken on the last page": (token_on_the_last_page, "pagination"),
    "a token that works with other filters": (token_ignores_a_filter, "pagination"),
    # issue 16: the variants checks
    "variants.search ignores callSetIds": (search_ignores_call_set_ids, "pagination"),
    "a deleted call set's calls stay in its variants": (call_set_delete_keeps_calls, "model"),
    "undelete does not bring a dataset's variants back": (dataset_delete_destroys_variants, "model"),
}
#: mutants a particular check must catch (a suite's other checks are blind to them)
CAUGHT_BY = {
    "variants.search ignores callSetIds": "pagination::variants_search_pages",
    "a deleted call set's calls stay in its variants": "model::variants_model_run",
    "undelete does not bring a dataset's variants back": "model::variants_model_run",
}


def run_against(suites: list[str], **target: Any) -> Report:
    app = create_app(auth="strict", tokens=TokenRegistry())
    with local_mock(app, seed=0) as t:
        tuned = Target(**{**t.__dict__, "max_examples": 6, "shrink": False, **target})
        return run_suites(tuned, suites)


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_is_caught(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    mutate, suite = MUTANTS[name]
    mutate(monkeypatch)
    report = run_against([suite])
    assert suite in report.suites_failed(), f"the {suite} suite did not catch the mutant {name!r}"
    if name in CAUGHT_BY:
        assert CAUGHT_BY[name] in {r.id for r in report.failed}, [r.id for r in report.failed]
    assert not any(
        r.message.startswith(("TypeError", "AttributeError", "KeyError")) for r in report.failed
    ), "the suite failed by crashing, not by catching the broken rule: " + "; ".join(
        r.message[:200] for r in report.failed
    )


def test_ignored_update_mask_also_breaks_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    ignored_update_mask(monkeypatch)
    assert "model" in run_against(["model"]).suites_failed()
