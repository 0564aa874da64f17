"""Datasets: the container every other resource lives in.

Soft delete: ``delete`` hides the dataset *and everything in it* from every
get, list and search (children's ``visible`` asks :meth:`Datasets.find`);
``undelete`` within :data:`UNDELETE_WINDOW` of the deletion (by the backend's
clock) brings all of it back. After the window the dataset is gone for good
and undelete is 404.

Decisions where the real API's documentation is silent (tested):

* deleting an already-deleted dataset is ``404 NOT_FOUND`` — it is no longer
  visible to any method but undelete;
* undeleting a live dataset is ``400 FAILED_PRECONDITION``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mockserver.backend.base import Component, Kind, Updates, compact, public, synchronized
from mockserver.backend.clock import parse_rfc3339, rfc3339
from mockserver.backend.paging import Listing
from mockserver.backend.principals import Principal
from mockserver.backend.request_fields import request_body, required_str
from mockserver.backend.tables import TableSpec, fail, json_records, text
from mockserver.errors import failed_precondition, invalid_argument, not_found

UNDELETE_WINDOW = timedelta(days=7)
MUTABLE_FIELDS = ("name",)
LIST = Listing("datasets.list", "datasets")


def _deletion_time(_key: str, value: Any) -> datetime:
    try:
        return parse_rfc3339(text(value) or "")
    except ValueError:
        fail("must be an RFC 3339 timestamp")


class Datasets(Component):
    kind = Kind("Dataset", "datasetId", "genomics.datasets")
    updates = Updates("datasets.patch", MUTABLE_FIELDS)
    tables = (
        TableSpec("records", json_records("projectId")),
        #: soft-deleted dataset id -> when it was deleted
        TableSpec("deleted", _deletion_time, rfc3339),
    )

    def reset(self) -> None:
        super().reset()
        self._deleted_at = self.table("deleted")

    def after_restore(self) -> None:
        super().after_restore()
        for dataset_id in self._deleted_at:
            record = self._records.get(dataset_id)
            if record is not None:
                self._groups[record["projectId"]].discard(dataset_id)

    def group_of(self, record: dict[str, Any]) -> str:
        """Datasets are listed by project (a deleted one leaves its group until undeleted)."""
        return record["projectId"]

    def visible(self, record: dict[str, Any]) -> bool:
        return record["id"] not in self._deleted_at

    def project_of(self, dataset_id: str) -> str | None:
        """The project of a stored dataset, deleted or not (None for an unknown id)."""
        record = self._records.get(dataset_id)
        return record["projectId"] if record is not None else None

    # -- API methods ------------------------------------------------------------------

    @synchronized
    def create(self, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
        body = request_body(body)
        project_id = required_str(body, "projectId")
        self.backend.iam.authorize(principal, "genomics.datasets.create", f"projects/{project_id}")
        dataset_id = self.backend.ids.new_numeric()
        record = compact(
            {
                "id": dataset_id,
                "projectId": project_id,
                "name": body.get("name"),
                "createTime": rfc3339(self.clock.now()),
            }
        )
        self.add_record(record)
        return public(record)

    @synchronized
    def list(
        self, principal: Principal, project_id: str | None,
        page_size: int | None = None, page_token: str | None = None,
    ) -> dict[str, Any]:
        if not project_id:
            raise invalid_argument("projectId is required")
        self.backend.iam.authorize(principal, "genomics.datasets.list", f"projects/{project_id}")
        query, index = {"projectId": project_id}, self.groups([project_id])
        return self.page_of(LIST, query, index, page_size=page_size, page_token=page_token)

    #: datasets.patch is the standard update (the API calls it patch)
    patch = Component.update

    def remove(self, record: dict[str, Any]) -> None:
        """Soft delete: hidden from every method but undelete (see module docstring)."""
        self._deleted_at[record["id"]] = self.clock.now()
        self._groups[record["projectId"]].discard(record["id"])

    @synchronized
    def undelete(self, principal: Principal, dataset_id: str) -> dict[str, Any]:
        record = self._records.get(dataset_id) if isinstance(dataset_id, str) else None
        if record is None:
            raise self.missing(dataset_id)
        self.authorize(principal, "genomics.datasets.delete", record)
        deleted_at = self._deleted_at.get(dataset_id)
        if deleted_at is None:
            raise failed_precondition(f"Dataset {dataset_id!r} is not deleted")
        if self.clock.now() - deleted_at > UNDELETE_WINDOW:
            raise not_found(
                f"Dataset {dataset_id!r} not found: it was deleted more than 7 days ago "
                "and cannot be restored"
            )
        del self._deleted_at[dataset_id]
        self._groups[record["projectId"]].add(dataset_id)
        return public(record)
