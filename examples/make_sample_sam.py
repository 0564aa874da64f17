"""Write examples/sample.sam: a few paired reads of sample NA12878 on chr1 (GRCh38 length).

The file is committed (text, so diffs stay readable) and loaded by examples/fixtures.yaml;
``python examples/make_sample_sam.py`` rewrites it, and a test checks the committed copy is
what this script writes. Sequences come from a seeded generator, so the output is stable.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pysam

CHR1_LENGTH = 248_956_422  # GRCh38 chr1, as in examples/fixtures.yaml
READ_LENGTH = 50
HEADER = {
    "HD": {"VN": "1.6", "SO": "coordinate"},
    "SQ": [{"SN": "chr1", "LN": CHR1_LENGTH}],
    "RG": [{"ID": "rg1", "SM": "NA12878", "PL": "ILLUMINA", "LB": "lib1"}],
}
#: (name, start of read 1, insert size): pairs over DDX11L1 (chr1:11,869-14,409)
PAIRS = (("pair1", 11_900, 300), ("pair2", 12_010, 280), ("pair3", 12_500, 320), ("pair4", 13_800, 260))


def records(header: pysam.AlignmentHeader) -> list[pysam.AlignedSegment]:
    rng = random.Random(17)
    out = []
    for name, start, insert in PAIRS:
        mate_start = start + insert - READ_LENGTH
        for first, pos, mate_pos in ((True, start, mate_start), (False, mate_start, start)):
            read = pysam.AlignedSegment(header)
            read.query_name = name
            read.flag = 0x1 | 0x2 | (0x40 | 0x20 if first else 0x80 | 0x10)
            read.reference_name = read.next_reference_name = "chr1"
            read.reference_start, read.next_reference_start = pos, mate_pos
            read.mapping_quality = 60
            read.cigarstring = f"{READ_LENGTH}M"
            read.template_length = insert if first else -insert
            read.query_sequence = "".join(rng.choice("ACGT") for _ in range(READ_LENGTH))
            read.query_qualities = pysam.qualitystring_to_array("I" * READ_LENGTH)
            read.set_tag("RG", "rg1")
            out.append(read)
    return sorted(out, key=lambda r: (r.reference_start, not r.is_read1))


def write(path: Path) -> None:
    header = pysam.AlignmentHeader.from_dict(HEADER)
    with pysam.AlignmentFile(str(path), "w", header=header) as sam:
        for read in records(header):
            sam.write(read)


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("sample.sam"))
