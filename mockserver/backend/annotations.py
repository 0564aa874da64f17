"""Annotations: ranges on a reference, typed by their annotation set.

Field rules live in :mod:`annotation_validation`, storage and the interval
index in :mod:`annotation_index`; this module holds the API methods.

Decisions where the real API's documentation is silent (tested):

* ``type`` is never stored per annotation: it must equal the set's type, an
  annotation sent without one takes the set's, and output shows the set's.
* ``batchCreate``: a missing ``annotationSetId``, sets that differ, an empty
  list or more than 4096 entries fail the whole call (400); an unknown set is
  404 for the whole call; any other problem of an entry becomes that entry's
  ``status`` (successful entries carry only ``annotation``). A repeated
  ``requestId`` for the same set returns the stored response unchanged.
* ``search`` range: ``start`` defaults to 0, ``end`` unset or 0 means "to the
  end of the reference" (reference lengths are unknown to the mock); ``end``
  must be greater than ``start``; ``start``/``end`` need ``referenceName`` or
  ``referenceId``; with both, an annotation must carry both. Overlap rule:
  see :mod:`annotation_index` (zero-length annotations at ``start`` match).
* ``search`` order: reference key (``n:<referenceName>``, or ``i:<referenceId>``
  for annotations without a name), then start, then id.
* References (:meth:`ReferenceSets.resolve`): the set's reference set is known
  (annotation sets must name one that exists), so ``referenceName`` and
  ``referenceId`` must name one of its references, must agree when both are
  given, and each is filled in from the other; the annotation must end within
  the reference's length. A search by either finds the annotation. (Sets restored
  from an older state may name a reference set the server does not know: their
  annotations keep what they were given, unchecked.)
* Permissions: ``genomics.annotations.{create,get,update,delete,list}`` on
  ``datasets/<the set's datasetId>`` (``list`` for search, on every set's
  dataset); a caller holding nothing there gets the unknown-id 404.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mockserver.backend.annotation_index import AnnotationRecord, SetIndex, reference_order, search_stream
from mockserver.backend.annotation_validation import (
    AnnotationFields,
    check_string,
    parse_int64,
    validate_annotation,
    validate_payload,
)
from mockserver.backend.base import Component, Kind, Updates, public, synchronized
from mockserver.backend.paging import Listing
from mockserver.backend.principals import Principal
from mockserver.backend.request_fields import request_body, required_ids, required_str
from mockserver.backend.tables import TableSpec, fail, json_object
from mockserver.errors import ApiError, invalid_argument

BATCH_MAX = 4096
#: how many per-record search renderings are kept (see Annotations._render_page)
RENDERED_KEPT = 65_536
MUTABLE_FIELDS = ("name", "variant", "transcript", "info")
#: a search over every reference is ordered by (reference key, start, id); one filtered by
#: reference uses the query's reference key for every record (see Annotations.search)
SEARCH = Listing("annotations.search", "annotations", key=lambda record: list(reference_order(record)))


def _json_copy(value: Any) -> Any:
    """Deep copy of JSON data (several times faster than copy.deepcopy)."""
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_copy(v) for v in value]
    return value


def _batch_response(key: str, value: Any) -> dict[str, Any]:
    response = json_object(value)
    if "/" not in key or type(response.get("entries")) is not list:
        fail("must be keyed <annotationSetId>/<requestId> and hold entries")
    return response


def _batch_key(set_id: str, request_id: str) -> str:
    """Set ids hold no '/', so the first one separates the request id."""
    return f"{set_id}/{request_id}"


class Annotations(Component):
    kind = Kind("Annotation", "annotationId", "genomics.annotations", parent="annotation_sets")
    updates = Updates("annotations.update", MUTABLE_FIELDS)
    tables = (
        TableSpec("records", AnnotationRecord.from_row, AnnotationRecord.row),
        #: <annotationSetId>/<requestId> -> the batchCreate response first given
        TableSpec("batches", _batch_response),
    )
    derived = Component.derived | {"_indexes", "_rendered"}

    def reset(self) -> None:
        super().reset()
        self._indexes: dict[str, SetIndex] = {}
        self._batches = self.table("batches")
        #: id -> (record, its extra, the set's type, _render's output for them): see _render_page
        self._rendered: dict[str, tuple[AnnotationRecord, Any, Any, dict[str, Any]]] = {}

    def after_restore(self) -> None:
        by_set: dict[str, list[AnnotationRecord]] = {}
        for record in self._records.values():
            by_set.setdefault(record.set_id, []).append(record)
        for set_id, records in by_set.items():
            self._index(set_id).add_many(records)

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    def _render(record: AnnotationRecord, set_record: dict[str, Any]) -> dict[str, Any]:
        """Proto3 JSON for a stored record (hot path of search: no deepcopy, no compact)."""
        out: dict[str, Any] = {"id": record.id, "annotationSetId": record.set_id}
        if record.ref_name is not None:
            out["referenceName"] = record.ref_name
        if record.ref_id is not None:
            out["referenceId"] = record.ref_id
        if record.start:
            out["start"] = str(record.start)
        if record.end:
            out["end"] = str(record.end)
        set_type_value = set_record.get("type")
        if set_type_value:
            out["type"] = set_type_value
        if record.extra:
            for key, value in record.extra.items():
                out[key] = _json_copy(value) if isinstance(value, (dict, list)) else value
        return out

    def _render_page(
        self, records: list[AnnotationRecord], sets: list[dict[str, Any]], set_type: Any
    ) -> list[dict[str, Any]]:
        """What :meth:`_render` gives for each record of a search page (its sets share ``set_type``).

        A page is assembled per request from per-record renderings kept in ``_rendered`` (at
        most :data:`RENDERED_KEPT`; all dropped when full): an entry is used only for the very
        record object, ``extra`` dict (an update assigns a new one) and set type it was made
        from, so a patched, deleted or restored annotation is rendered afresh. Each request
        gets its own copy (a deep one when the record has free-form fields). One loop for the
        page, not a call per record: this is the search's hot path."""
        kept = self._rendered
        page = []
        for record in records:
            extra = record.extra
            entry = kept.get(record.id)
            if entry is None or entry[0] is not record or entry[1] is not extra or entry[2] != set_type:
                if len(kept) >= RENDERED_KEPT:
                    kept.clear()
                set_record = next(s for s in sets if s["id"] == record.set_id)
                entry = kept[record.id] = (record, extra, set_type, self._render(record, set_record))
            page.append(entry[3].copy() if extra is None else _json_copy(entry[3]))
        return page

    def id_of(self, record: AnnotationRecord) -> str:
        return record.id

    def parent_id(self, record: AnnotationRecord) -> str:
        return record.set_id

    def group_of(self, record: AnnotationRecord) -> None:
        """Annotations are indexed by range in their set's :class:`SetIndex`, not by id."""
        return None

    def _set_of(self, record: AnnotationRecord) -> dict[str, Any]:
        return self.backend.annotation_sets.require(record.set_id)

    def _validate(
        self, body: Any, set_record: dict[str, Any], prefix: str = "annotation"
    ) -> AnnotationFields:
        """Field rules, then the reference: resolved in the set's reference set (name and id both
        filled in), and the annotation inside it."""
        fields = validate_annotation(body, set_record.get("type"), prefix)
        try:
            resolved = self.backend.reference_sets.resolve(
                set_record.get("referenceSetId"), fields.reference_name, fields.reference_id
            )
        except ApiError as error:
            raise invalid_argument(f"{prefix}.{error.message}") from None
        fields.reference_name, fields.reference_id = resolved.name, resolved.id
        if resolved.length is not None and fields.end > resolved.length:
            raise invalid_argument(
                f"{prefix}.end {fields.end} is past the end of reference {resolved.name!r} "
                f"({resolved.length} bp)"
            )
        return fields

    def _build(self, set_id: str, fields: AnnotationFields) -> AnnotationRecord:
        return AnnotationRecord(
            self.backend.ids.new(),
            set_id,
            fields.reference_name,
            fields.reference_id,
            fields.start,
            fields.end,
            _json_copy(fields.extra) if fields.extra else None,
        )

    def _index(self, set_id: str) -> SetIndex:
        index = self._indexes.get(set_id)
        if index is None:
            index = self._indexes[set_id] = SetIndex()
        return index

    def drop_set(self, set_id: str) -> None:
        """Forget every annotation of a deleted annotation set (called by AnnotationSets.delete)."""
        index = self._indexes.pop(set_id, None)
        if index is not None:
            for record in index.records():
                del self._records[record.id]
        prefix = _batch_key(set_id, "")
        for key in [k for k in self._batches if k.startswith(prefix)]:
            del self._batches[key]

    @synchronized
    def all_records(self) -> list[AnnotationRecord]:
        """Every stored record, unordered (for oracles in tests and the benchmark's scan)."""
        return list(self._records.values())

    # -- API methods ------------------------------------------------------------------

    @synchronized
    def create(self, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
        body = request_body(body)
        set_id = required_str(body, "annotationSetId", "annotation.annotationSetId")
        sets = self.backend.annotation_sets
        set_record = sets.require(set_id)
        sets.authorize(principal, "genomics.annotations.create", set_record)
        record = self._build(set_id, self._validate(body, set_record))
        self._records[record.id] = record
        self._index(set_id).add(record)
        return self._render(record, set_record)

    @synchronized
    def batch_create(self, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
        body = request_body(body)
        annotations = body.get("annotations")
        if not isinstance(annotations, list) or not annotations:
            raise invalid_argument("annotations is required (a non-empty list)")
        if len(annotations) > BATCH_MAX:
            raise invalid_argument(
                f"annotations must hold at most {BATCH_MAX} entries (got {len(annotations)})"
            )
        set_id = self._common_set(annotations)
        request_id = check_string(body, "requestId", "requestId")
        field = "annotations[].annotationSetId"
        sets = self.backend.annotation_sets
        set_record = sets.require(set_id, field=field)
        sets.authorize(principal, "genomics.annotations.create", set_record, field=field)
        if request_id and _batch_key(set_id, request_id) in self._batches:
            return public(self._batches[_batch_key(set_id, request_id)])
        entries: list[dict[str, Any]] = []
        created: list[AnnotationRecord] = []
        for i, item in enumerate(annotations):
            try:
                fields = self._validate(item, set_record, f"annotations[{i}]")
            except ApiError as error:
                entries.append({"status": error.rpc_status()})
                continue
            record = self._build(set_id, fields)
            self._records[record.id] = record
            created.append(record)
            entries.append({"annotation": self._render(record, set_record)})
        self._index(set_id).add_many(created)
        response = {"entries": entries}
        if request_id:
            self._batches[_batch_key(set_id, request_id)] = public(response)
        return response

    @staticmethod
    def _common_set(annotations: list[Any]) -> str:
        set_id: str | None = None
        for i, item in enumerate(annotations):
            value = item.get("annotationSetId") if isinstance(item, dict) else None
            if not isinstance(value, str) or not value:
                raise invalid_argument(f"annotations[{i}].annotationSetId is required")
            if set_id is not None and value != set_id:
                raise invalid_argument(
                    f"annotations[{i}].annotationSetId: all annotations of a batch must belong to one "
                    f"annotation set ({value!r} differs from {set_id!r})"
                )
            set_id = value
        assert set_id is not None
        return set_id

    @synchronized
    def load(self, principal: Principal, set_id: str, annotations: Iterable[dict[str, Any]]) -> int:
        """Bulk insert for seeding and benchmarks: same validation and index, no response bodies.

        All-or-nothing: the first invalid annotation raises and nothing is stored.
        """
        sets = self.backend.annotation_sets
        set_record = sets.require(set_id)
        sets.authorize(principal, "genomics.annotations.create", set_record)
        records = [
            self._build(set_id, self._validate(item, set_record, f"annotations[{i}]"))
            for i, item in enumerate(annotations)
        ]
        for record in records:
            self._records[record.id] = record
        self._index(set_id).add_many(records)
        return len(records)

    def render(self, record: AnnotationRecord) -> dict[str, Any]:
        return self._render(record, self._set_of(record))

    def changes(self, record: AnnotationRecord, body: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        incoming = {field: body.get(field) for field in fields if field != "name"}
        set_type_value = self._set_of(record).get("type")
        values = validate_payload(incoming, set_type_value, record.start, record.end, "annotation")
        if "name" in fields:
            values["name"] = check_string(body, "name", "annotation.name")
        return values

    def apply_changes(self, record: AnnotationRecord, values: dict[str, Any], fields: list[str]) -> None:
        extra = dict(record.extra or {})
        for field in fields:
            if values.get(field) in (None, "", {}):
                extra.pop(field, None)
            else:
                extra[field] = _json_copy(values[field])
        record.extra = extra or None

    def remove(self, record: AnnotationRecord) -> None:
        del self._records[record.id]
        self._indexes[record.set_id].remove(record)

    @synchronized
    def search(self, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
        body = request_body(body)
        set_ids = required_ids(body, "annotationSetIds")
        annotation_sets = self.backend.annotation_sets
        sets = [annotation_sets.require(s, field="annotationSetIds") for s in set_ids]
        for set_record in sets:
            annotation_sets.authorize(
                principal, "genomics.annotations.list", set_record, field="annotationSetIds"
            )
        set_type = sets[0].get("type")
        if len(sets) > 1 and any(s.get("type") != set_type for s in sets):
            raise invalid_argument("annotationSetIds: all annotation sets searched must have the same type")
        reference_name = check_string(body, "referenceName", "referenceName")
        reference_id = check_string(body, "referenceId", "referenceId")
        qs = parse_int64(body.get("start"), "start", default=0) or 0
        qe = parse_int64(body.get("end"), "end", default=0) or None
        if reference_name is None and reference_id is None and (qs or qe is not None):
            raise invalid_argument("start and end require referenceName or referenceId")
        if qs < 0:
            raise invalid_argument(f"start must be >= 0 (got {qs})")
        if qe is not None and qe <= qs:
            raise invalid_argument(f"end must be greater than start (got start={qs}, end={qe})")
        query = {
            "annotationSetIds": set_ids,
            "referenceName": reference_name,
            "referenceId": reference_id,
            "start": qs,
            "end": qe,
        }
        if reference_name is None and reference_id is None:
            key = SEARCH.key
        else:
            query_key = f"n:{reference_name}" if reference_name is not None else f"i:{reference_id}"
            key = lambda record: [query_key, record.start, record.id]  # noqa: E731
        indexes = [index for index in map(self._indexes.get, set_ids) if index is not None]
        records, token = self.backend.pager.page(
            SEARCH.method,
            query,
            page_token=body.get("pageToken") or None,
            size=SEARCH.page_size(body.get("pageSize")),
            stream=lambda cursor: search_stream(indexes, reference_name, reference_id, qs, qe, cursor),
            key=key,
        )
        return SEARCH.response(self._render_page(records, sets, set_type), token)
