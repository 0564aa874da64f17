"""The coverage index built at import: per-reference depth sums over 2048 bp blocks.

Reads never change after import, so while an import reads its files a
:class:`CoverageBuilder` adds each read's depth runs (see :mod:`.bam`) into
per-block sums; :meth:`CoverageBuilder.build` turns them into prefix sums and
the sorted list of non-empty blocks that :mod:`.coverage` answers bucket
queries from.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from itertools import accumulate

BLOCK_SHIFT = 11
BLOCK = 1 << BLOCK_SHIFT  # 2048, the smallest bucket width


class CoverageBuilder:
    """Accumulates per-block depth sums while an import reads its files."""

    def __init__(self, lengths: dict[str, int]) -> None:
        self.lengths = lengths
        self._blocks: dict[str, array] = {}

    def add(self, reference: str, runs: list[tuple[int, int]]) -> None:
        blocks = self._blocks.get(reference)
        length = self.lengths.get(reference, 0)
        if blocks is None:
            blocks = self._blocks[reference] = array("Q", bytes(8 * ((length + BLOCK - 1) >> BLOCK_SHIFT)))
        for a, b in runs:
            b = min(b, length)
            if a >= b:
                continue
            ka, kb = a >> BLOCK_SHIFT, (b - 1) >> BLOCK_SHIFT
            if ka == kb:
                blocks[ka] += b - a
                continue
            blocks[ka] += ((ka + 1) << BLOCK_SHIFT) - a
            for k in range(ka + 1, kb):
                blocks[k] += BLOCK
            blocks[kb] += b - (kb << BLOCK_SHIFT)

    def build(self) -> CoverageIndex:
        refs = {}
        for name, blocks in self._blocks.items():
            nonzero = array("I", (k for k, v in enumerate(blocks) if v))
            if nonzero:
                refs[name] = RefCoverage(
                    self.lengths[name], array("Q", accumulate(blocks, initial=0)), nonzero
                )
        return CoverageIndex(dict(self.lengths), refs)


@dataclass
class RefCoverage:
    length: int
    prefix: array  # prefix[k] = depth sum of blocks [0, k)
    nonzero: array  # indexes of blocks with depth > 0, sorted


@dataclass
class CoverageIndex:
    lengths: dict[str, int]  # every reference of the set's header
    references: dict[str, RefCoverage]  # those with any coverage
