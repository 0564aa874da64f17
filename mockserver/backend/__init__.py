"""The in-memory Genomics backend: state, indexes and the real API's rules.

Nothing here knows about HTTP. Each resource is a :class:`Component` holding
its own state; they share one re-entrant lock, clock, id generator,
paginator and IAM, owned by :class:`Backend`::

    backend = Backend(clock=FakeClock())
    ds = backend.datasets.create(DEFAULT_OWNER, {"projectId": "p1"})
"""

from __future__ import annotations

import threading
from pathlib import Path

from mockserver.backend.annotations import Annotations
from mockserver.backend.annotationsets import AnnotationSets
from mockserver.backend.base import Component
from mockserver.backend.callsets import CallSets
from mockserver.backend.clock import Clock, SystemClock
from mockserver.backend.coverage import Coverage
from mockserver.backend.dataset_policies import DatasetPolicies
from mockserver.backend.datasets import Datasets
from mockserver.backend.iam import Iam
from mockserver.backend.ids import IdGenerator
from mockserver.backend.operations import Operations
from mockserver.backend.paging import PageTokens, Paginator
from mockserver.backend.principals import DEFAULT_OWNER, Principal
from mockserver.backend.readgroupsets import ReadGroupSets
from mockserver.backend.reads import Reads
from mockserver.backend.references import References
from mockserver.backend.referencesets import ReferenceSets
from mockserver.backend.storage import Storage
from mockserver.backend.variantsets import VariantSets

__all__ = ["Backend", "Principal", "DEFAULT_OWNER"]


class Backend:
    """All state of one mock server instance."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        id_seed: int | None = None,
        token_secret: bytes | None = None,
        storage_root: str | Path | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.clock: Clock = clock or SystemClock()
        self.ids = IdGenerator(id_seed)
        self.pager = Paginator(PageTokens(token_secret))
        self.iam = Iam(self)
        self.storage = Storage(storage_root)
        self.operations = Operations(self)
        self.datasets = Datasets(self)
        self.dataset_policies = DatasetPolicies(self)
        self.reference_sets = ReferenceSets(self)
        self.references = References(self)
        self.annotation_sets = AnnotationSets(self)
        self.annotations = Annotations(self)
        self.variant_sets = VariantSets(self)
        self.call_sets = CallSets(self)
        self.read_group_sets = ReadGroupSets(self)
        self.reads = Reads(self)
        self.coverage = Coverage(self)

    @property
    def components(self) -> list[Component]:
        return [value for value in vars(self).values() if isinstance(value, Component)]

    def reset(self) -> None:
        """Forget all state (microseconds: containers are replaced, nothing restarts)."""
        with self.lock:
            self.ids.clear()
            self.iam.reset()
            for component in self.components:
                component.reset()
