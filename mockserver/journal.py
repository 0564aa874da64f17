"""The journal: an append-only file of checksummed frames, each a group of state changes.

Layout of a segment file (``<state file>.journal.<generation>``)::

    header  b"GMJRNL" + u16 format version                      (8 bytes)
    frame   u64 payload length + u32 CRC-32 of the payload      (12 bytes, little-endian)
            payload: a JSON array of change entries
    frame   ...

A frame is written whole and fsync-ed (group commit: one frame holds every
change made since the previous one), so after ``kill -9`` only the last frame
can be incomplete. Reading tells the two cases apart: an incomplete or
mismatching *last* frame is a torn tail (dropped, with one warning, and cut
off before new frames are appended); a bad frame with data after it, a bad
header, or a newer format version is corruption (:class:`JournalError`, the
file is left as it is).

I/O goes through :func:`write_all` and :func:`sync`, so tests can make them fail.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = b"GMJRNL"
FORMAT_VERSION = 1
HEADER = MAGIC + struct.pack("<H", FORMAT_VERSION)
FRAME = struct.Struct("<QI")


class JournalError(Exception):
    """A journal segment that cannot be replayed (the message names the file and the offset)."""


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def sync(fd: int) -> None:
    os.fsync(fd)


def sync_directory(directory: Path) -> None:
    """Make a new or renamed entry of ``directory`` durable (best effort where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def frame(entries: list[bytes]) -> bytes:
    """One frame holding JSON-encoded ``entries``."""
    payload = b"[" + b",".join(entries) + b"]"
    return FRAME.pack(len(payload), zlib.crc32(payload)) + payload


@dataclass
class Segment:
    """What :func:`read_segment` found: the payloads with their offsets, and where the good part ends."""

    path: Path
    generation: int
    payloads: list[tuple[int, bytes]] = field(default_factory=list)
    end: int = 0
    torn_at: int | None = None


def segment_path(state_path: Path, generation: int) -> Path:
    return state_path.with_name(f"{state_path.name}.journal.{generation}")


def segments(state_path: Path) -> dict[int, Path]:
    """The journal segments next to a state file, by generation."""
    prefix = f"{state_path.name}.journal."
    found = {}
    for path in state_path.parent.glob(f"{state_path.name}.journal.*"):
        suffix = path.name[len(prefix):]
        if suffix.isdigit():
            found[int(suffix)] = path
    return dict(sorted(found.items()))


def read_segment(path: Path, generation: int, *, last: bool) -> Segment:
    """Read one segment; a torn tail is accepted only in the ``last`` one."""
    data = path.read_bytes()
    segment = Segment(path, generation)
    if len(data) < len(HEADER):
        if last and HEADER.startswith(data):  # killed while creating it
            segment.torn_at = 0
            return segment
        raise JournalError(f"journal {path} is corrupt at offset 0: too short for a journal header")
    if data[: len(MAGIC)] != MAGIC:
        raise JournalError(f"journal {path} is corrupt at offset 0: not a genomics-mock journal")
    (version,) = struct.unpack_from("<H", data, len(MAGIC))
    if version > FORMAT_VERSION:
        raise JournalError(
            f"journal {path} at offset {len(MAGIC)}: format version {version} was written by a newer "
            f"genomics-mock (this server reads version {FORMAT_VERSION})"
        )
    if version < 1:
        raise JournalError(f"journal {path} is corrupt at offset {len(MAGIC)}: format version {version}")
    offset = len(HEADER)
    while offset < len(data):
        problem = None
        if len(data) - offset < FRAME.size:
            problem, end = "an incomplete frame header", len(data)
        else:
            length, crc = FRAME.unpack_from(data, offset)
            end = offset + FRAME.size + length
            if end > len(data):
                problem = "a frame longer than the file"
            elif zlib.crc32(data[offset + FRAME.size : end]) != crc:
                problem = "a frame whose checksum does not match"
        if problem is not None:
            if last and end >= len(data):
                segment.torn_at = offset
                break
            raise JournalError(f"journal {path} is corrupt at offset {offset}: {problem}")
        segment.payloads.append((offset, data[offset + FRAME.size : end]))
        offset = end
    segment.end = offset if segment.torn_at is None else segment.torn_at
    return segment


class JournalFile:
    """The segment new frames are appended to (one writer at a time: the caller serializes)."""

    def __init__(self, path: Path, generation: int, fd: int, size: int) -> None:
        self.path = path
        self.generation = generation
        self._fd = fd
        #: bytes known to be durable; anything after them is cut off before the next write
        self.size = size
        self._dirty = False

    @classmethod
    def create(cls, path: Path, generation: int) -> JournalFile:
        """A new, empty segment (header written and synced, its directory entry too)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_all(fd, HEADER)
            sync(fd)
        except BaseException:
            os.close(fd)
            raise
        sync_directory(path.parent)
        return cls(path, generation, fd, len(HEADER))

    @classmethod
    def reopen(cls, segment: Segment) -> JournalFile:
        """Continue an existing segment after its last good frame (a torn tail is cut off)."""
        if segment.end < len(HEADER):
            return cls.create(segment.path, segment.generation)
        fd = os.open(segment.path, os.O_WRONLY)
        try:
            if segment.torn_at is not None:
                os.ftruncate(fd, segment.end)
                sync(fd)
        except BaseException:
            os.close(fd)
            raise
        return cls(segment.path, segment.generation, fd, segment.end)

    def append(self, frames: list[bytes]) -> None:
        """Write ``frames`` after the durable part and fsync; on OSError nothing counts as written."""
        if self._dirty:
            os.ftruncate(self._fd, self.size)
            self._dirty = False
        os.lseek(self._fd, self.size, os.SEEK_SET)
        data = b"".join(frames)
        self._dirty = True
        write_all(self._fd, data)
        sync(self._fd)
        self._dirty = False
        self.size += len(data)

    def close(self) -> None:
        """Close the file, first cutting off what a failed append left after the durable part."""
        if self._fd >= 0:
            if self._dirty:
                try:
                    os.ftruncate(self._fd, self.size)
                except OSError:
                    pass
            os.close(self._fd)
            self._fd = -1
