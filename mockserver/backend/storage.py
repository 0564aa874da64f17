"""A local stand-in for Cloud Storage: ``gs://bucket/object`` is ``<root>/bucket/object``.

Import and export name files by ``gs://`` URI, as the real API does; the mock
resolves them under one configurable directory (``--storage-root``). Nothing
outside that directory is ever read or written: ``..`` segments, absolute
object names and other schemes are refused with a 400 naming the field.
"""

from __future__ import annotations

import glob
import tempfile
from pathlib import Path, PurePosixPath

from mockserver.errors import invalid_argument

_BUCKET_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_.")


class Storage:
    """Maps ``gs://`` URIs to paths under ``root`` (a temp dir made on first use if None)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self._root = Path(root).resolve() if root is not None else None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def root(self) -> Path:
        if self._root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="genomics-mock-storage-")
            self._root = Path(self._tmp.name).resolve()
        return self._root

    def split(self, uri: object, *, field: str) -> tuple[str, str]:
        """``(bucket, object)`` of a well-formed ``gs://`` URI, else 400 naming ``field``."""
        if not isinstance(uri, str) or not uri.startswith("gs://"):
            raise invalid_argument(f"{field}: {uri!r} is not a gs://bucket/object URI")
        bucket, _, name = uri[len("gs://") :].partition("/")
        if not bucket or not set(bucket) <= _BUCKET_CHARS or bucket in (".", ".."):
            raise invalid_argument(f"{field}: {uri!r} has an invalid bucket name")
        parts = PurePosixPath(name).parts if name else ()
        if not name or name.startswith("/") or any(p in ("..", ".") for p in parts) or "\\" in name:
            raise invalid_argument(f"{field}: {uri!r} has an invalid object name")
        if "\0" in name:
            raise invalid_argument(f"{field}: {uri!r} has an invalid object name")
        return bucket, name

    def path(self, uri: object, *, field: str) -> Path:
        """The local path of one object (it need not exist)."""
        bucket, name = self.split(uri, field=field)
        path = (self.root / bucket / name).resolve()
        if not path.is_relative_to(self.root / bucket):
            raise invalid_argument(f"{field}: {uri!r} escapes its bucket")
        return path

    def expand(self, uri: str, *, field: str) -> list[Path]:
        """Existing files named by ``uri``; ``*`` in the object name matches like a shell glob.

        Returns ``[]`` when nothing matches (the caller decides whether that is an error).
        """
        path = self.path(uri, field=field)
        if "*" not in uri:
            return [path] if path.is_file() else []
        matches = sorted(Path(p) for p in glob.glob(glob.escape(str(path)).replace("[*]", "*")))
        bucket_dir = self.root / self.split(uri, field=field)[0]
        return [p for p in matches if p.is_file() and p.resolve().is_relative_to(bucket_dir)]

    def uri(self, path: Path) -> str:
        """The ``gs://`` URI of a path under the root."""
        relative = Path(path).resolve().relative_to(self.root)
        return "gs://" + relative.as_posix()
