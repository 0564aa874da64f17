"""Datasets: the container every other resource lives in.

Soft delete: ``delete`` hides the dataset *and everything in it* from every
get, list and search (children ask :meth:`Datasets.require_live`);
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

from sortedcontainers import SortedList

from mockserver.backend.base import Component, compact, public, synchronized
from mockserver.backend.clock import rfc3339
from mockserver.backend.fieldmask import apply_mask, parse_update_mask
from mockserver.backend.iam import Principal
from mockserver.backend.paging import page_size
from mockserver.errors import failed_precondition, invalid_argument, not_found

UNDELETE_WINDOW = timedelta(days=7)
LIST_DEFAULT_PAGE_SIZE = 50
LIST_MAX_PAGE_SIZE = 1024
MUTABLE_FIELDS = ("name",)


class Datasets(Component):
    def reset(self) -> None:
        self._records: dict[str, dict[str, Any]] = {}
        self._deleted_at: dict[str, datetime] = {}
        #: projectId -> live dataset ids in list order
        self._by_project: dict[str, SortedList] = {}

    # -- helpers other components use -------------------------------------------------

    def require_live(self, dataset_id: str, *, field: str = "datasetId") -> dict[str, Any]:
        """The stored record of a live dataset, or 404 naming the id (no permission check)."""
        record = self._records.get(dataset_id) if dataset_id else None
        if record is None or dataset_id in self._deleted_at:
            raise not_found(f"Dataset {dataset_id!r} not found ({field})")
        return record

    def is_live(self, dataset_id: str) -> bool:
        return dataset_id in self._records and dataset_id not in self._deleted_at

    def project_of(self, dataset_id: str) -> str:
        return self._records[dataset_id]["projectId"]

    # -- API methods ------------------------------------------------------------------

    @synchronized
    def create(self, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
        project_id = body.get("projectId")
        if not project_id:
            raise invalid_argument("projectId is required")
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
        self._records[dataset_id] = record
        self._by_project.setdefault(project_id, SortedList()).add(dataset_id)
        return public(record)

    @synchronized
    def get(self, principal: Principal, dataset_id: str) -> dict[str, Any]:
        record = self.require_live(dataset_id)
        self.backend.iam.authorize(principal, "genomics.datasets.get", f"datasets/{dataset_id}")
        return public(record)

    @synchronized
    def list(
        self,
        principal: Principal,
        project_id: str | None,
        page_size_value: int | None = None,
        page_token: str | None = None,
    ) -> dict[str, Any]:
        if not project_id:
            raise invalid_argument("projectId is required")
        self.backend.iam.authorize(principal, "genomics.datasets.list", f"projects/{project_id}")
        size = page_size(page_size_value, default=LIST_DEFAULT_PAGE_SIZE, maximum=LIST_MAX_PAGE_SIZE)
        index = self._by_project.get(project_id, SortedList())

        def stream(cursor: list[Any] | None):
            start = cursor[0] if cursor else None
            for dataset_id in index.irange(minimum=start, inclusive=(False, False)):
                yield self._records[dataset_id]

        items, token = self.backend.pager.page(
            "datasets.list",
            {"projectId": project_id},
            page_token=page_token,
            size=size,
            stream=stream,
            key=lambda record: [record["id"]],
        )
        return compact({"datasets": [public(r) for r in items], "nextPageToken": token})

    @synchronized
    def patch(
        self, principal: Principal, dataset_id: str, body: dict[str, Any], update_mask: str | None
    ) -> dict[str, Any]:
        record = self.require_live(dataset_id)
        self.backend.iam.authorize(principal, "genomics.datasets.update", f"datasets/{dataset_id}")
        fields = parse_update_mask(update_mask, MUTABLE_FIELDS, method="datasets.patch")
        apply_mask(record, body, fields)
        return public(record)

    @synchronized
    def delete(self, principal: Principal, dataset_id: str) -> dict[str, Any]:
        record = self.require_live(dataset_id)
        self.backend.iam.authorize(principal, "genomics.datasets.delete", f"datasets/{dataset_id}")
        self._deleted_at[dataset_id] = self.clock.now()
        self._by_project[record["projectId"]].discard(dataset_id)
        return {}

    @synchronized
    def undelete(self, principal: Principal, dataset_id: str) -> dict[str, Any]:
        record = self._records.get(dataset_id)
        if record is None:
            raise not_found(f"Dataset {dataset_id!r} not found (datasetId)")
        self.backend.iam.authorize(principal, "genomics.datasets.delete", f"datasets/{dataset_id}")
        deleted_at = self._deleted_at.get(dataset_id)
        if deleted_at is None:
            raise failed_precondition(f"Dataset {dataset_id!r} is not deleted")
        if self.clock.now() - deleted_at > UNDELETE_WINDOW:
            raise not_found(
                f"Dataset {dataset_id!r} not found: it was deleted more than 7 days ago "
                "and cannot be restored"
            )
        del self._deleted_at[dataset_id]
        self._by_project[record["projectId"]].add(dataset_id)
        return public(record)
