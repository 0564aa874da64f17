"""The in-memory Genomics backend: state, indexes and the real API's rules.

Nothing here knows about HTTP. Each resource is a :class:`Component` holding
its own state; they share one re-entrant lock, clock, id generator,
paginator and IAM, owned by :class:`Backend`. Everything a backend must
remember is in the tables of its :meth:`Backend.participants`
(:mod:`.tables`), which report every write to :attr:`Backend.changes`::

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
from mockserver.backend.clock import Clock, FakeClock, SystemClock
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
from mockserver.backend.settings import Settings
from mockserver.backend.storage import BigQuery, Storage
from mockserver.backend.tables import ChangeFeed, Stateful
from mockserver.backend.variants import Variants
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
        bigquery_root: str | Path | None = None,
    ) -> None:
        self.lock = threading.RLock()
        #: where every table of this backend reports its writes (the journal listens with --state)
        self.changes = ChangeFeed()
        self.settings = Settings(self)
        self.pager = Paginator(PageTokens(token_secret))
        self.settings.record_secret()
        self.clock = clock or SystemClock()
        self.ids = IdGenerator(id_seed, self.changes)
        self.iam = Iam(self)
        self.storage = Storage(storage_root)
        self.bigquery = BigQuery(self.storage, bigquery_root)
        self.operations = Operations(self)
        self.datasets = Datasets(self)
        self.dataset_policies = DatasetPolicies(self)
        self.reference_sets = ReferenceSets(self)
        self.references = References(self)
        self.annotation_sets = AnnotationSets(self)
        self.annotations = Annotations(self)
        self.variant_sets = VariantSets(self)
        self.call_sets = CallSets(self)
        self.variants = Variants(self)
        self.read_group_sets = ReadGroupSets(self)
        self.reads = Reads(self)
        self.coverage = Coverage(self)

    @property
    def clock(self) -> Clock:
        return self._clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        """Replace the clock; a fake one tells the settings each time it moves."""
        self._clock = clock
        if isinstance(clock, FakeClock) and self._clock_moved not in clock.listeners:
            clock.listeners.append(self._clock_moved)
        self.settings.record_clock(clock)

    def _clock_moved(self, _now: object) -> None:
        self.settings.record_clock(self._clock)

    @property
    def components(self) -> list[Component]:
        return [value for value in vars(self).values() if isinstance(value, Component)]

    def participants(self) -> dict[str, Stateful]:
        """Everything with persistent state, by its name in a state document."""
        named: dict[str, Stateful] = {"server": self.settings, "ids": self.ids, "iam": self.iam}
        named.update((name, value) for name, value in vars(self).items() if isinstance(value, Component))
        return named

    def reset(self) -> None:
        """Forget all data (microseconds: containers are replaced, nothing restarts); the
        clock and the page-token secret stay."""
        with self.lock:
            self.ids.clear()
            self.iam.reset()
            for component in self.components:
                component.reset()
            listener = self.changes.listener
            if listener is not None:
                listener.reset()
