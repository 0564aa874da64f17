"""Local stand-ins for Cloud Storage and BigQuery.

Import and export name files by ``gs://`` URI, as the real API does; the mock
resolves them under one configurable directory (``--storage-root``):
``gs://bucket/object`` is ``<root>/bucket/object``. Nothing outside that
directory is ever read or written: ``..`` segments, absolute object names and
other schemes are refused with a 400 naming the field.

``variantsets.export`` writes BigQuery tables: :class:`BigQuery` keeps them under
``--bigquery-root`` (default ``<storage root>/.bigquery``, a name no bucket can
have, as bucket names start with a letter or digit): dataset ``d`` of project
``p`` is the directory ``<root>/p/d``, which must exist, and table ``t`` is the
file ``<root>/p/d/t.jsonl``.

Writing is safe against a directory swapped for a symbolic link after the
request was checked (someone else may write under the root too):
:func:`write_file` walks from the root one directory at a time, opening each
without following links, creates a temporary file in the directory it reached
(``O_EXCL|O_NOFOLLOW``) and links it into place only when no object of that
name exists. Messages never hold the root's absolute path (:meth:`Storage.describe`).
"""

from __future__ import annotations

import errno
import glob
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from mockserver.errors import failed_precondition, invalid_argument, not_found

_DIRECTORY_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/-])/(?:[^\s'\"`/,;()]+/)*[^\s'\"`/,;()]*")


def scrub(text: str, path: Path | None = None, uri: str | None = None) -> str:
    """``text`` for a client: ``path`` written as its ``uri``, any other absolute path as ``<path>``."""
    if path is not None and uri is not None:
        text = text.replace(str(path), uri)
    return _ABSOLUTE_PATH.sub("<path>", text)


class UnsafePath(OSError):
    """A path component that is a symbolic link or not a directory where one was walked."""


def open_directory(root: Path, parts: Sequence[str], *, create: bool = False) -> int:
    """A descriptor of ``root/parts...``, each part opened without following a link (and made
    first when ``create``); raises :class:`UnsafePath` for a link or a non-directory, and
    ``FileNotFoundError`` for a missing part."""
    fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    try:
        for part in parts:
            if part in ("", ".", "..") or "/" in part:
                raise UnsafePath(errno.EINVAL, "not a plain name")
            if create:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
            try:
                child = os.open(part, _DIRECTORY_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafePath(exc.errno, "a symbolic link or not a directory") from None
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file(root: Path, relative: PurePosixPath) -> int:
    """A read descriptor of the regular file ``root/relative``, walked like :func:`open_directory`
    (so no link anywhere below ``root`` is followed)."""
    *folders, name = relative.parts
    directory = open_directory(root, folders)
    try:
        try:
            fd = os.open(name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC, dir_fd=directory)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafePath(exc.errno, "a symbolic link") from None
            raise
    finally:
        os.close(directory)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafePath(errno.EINVAL, "not a regular file")
    return fd


def write_file(
    root: Path,
    relative: PurePosixPath,
    write: Callable[[BinaryIO], None],
    *,
    replace: bool = False,
    create: bool = True,
) -> None:
    """Create ``root/relative`` with what ``write`` writes, never following a link below ``root``;
    an existing file is ``FileExistsError`` unless ``replace`` (then it is renamed over). Missing
    folders are made when ``create``, else ``FileNotFoundError``."""
    *folders, name = relative.parts
    directory = open_directory(root, folders, create=create)
    partial = f".{name[:100]}.partial-{secrets.token_hex(6)}"
    try:
        fd = os.open(partial, _NEW_FILE_FLAGS, 0o644, dir_fd=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
            if replace:
                os.rename(partial, name, src_dir_fd=directory, dst_dir_fd=directory)
            else:
                _link_new(partial, name, directory)
        finally:
            try:
                os.unlink(partial, dir_fd=directory)
            except FileNotFoundError:
                pass
    finally:
        os.close(directory)


def remove_file(root: Path, relative: PurePosixPath) -> None:
    """Remove ``root/relative`` if it is there (walked like :func:`open_directory`)."""
    *folders, name = relative.parts
    try:
        directory = open_directory(root, folders)
    except OSError:
        return
    try:
        os.unlink(name, dir_fd=directory)
    except OSError:
        pass
    finally:
        os.close(directory)


def _link_new(partial: str, name: str, directory: int) -> None:
    """Give ``partial`` its final ``name`` unless that name exists (a link is refused too)."""
    try:
        os.link(partial, name, src_dir_fd=directory, dst_dir_fd=directory, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as exc:  # a file system without hard links: check, then rename
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
            raise
        try:
            os.stat(name, dir_fd=directory, follow_symlinks=False)
        except FileNotFoundError:
            os.rename(partial, name, src_dir_fd=directory, dst_dir_fd=directory)
            return
        raise FileExistsError(errno.EEXIST, "exists") from None

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
        if not bucket or not set(bucket) <= _BUCKET_CHARS or not bucket[0].isalnum():
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

    def expand_all(self, uris: list[str], *, field: str) -> list[tuple[str, Path]]:
        """``(uri, path)`` of every file ``uris`` name, each file once, in order (a wildcard's
        matches named by their own URI); 404 naming a URI that matches nothing."""
        files: list[tuple[str, Path]] = []
        seen: set[Path] = set()
        for uri in uris:
            matches = self.expand(uri, field=field)
            if not matches:
                raise not_found(f"{field}: {uri} not found")
            for path in matches:
                if path not in seen:
                    seen.add(path)
                    files.append((self.uri(path) if "*" in uri else uri, path))
        return files

    def uri(self, path: Path) -> str:
        """The ``gs://`` URI of a path under the root."""
        relative = Path(path).resolve().relative_to(self.root)
        return "gs://" + relative.as_posix()

    def write(self, uri: str, write: Callable[[BinaryIO], None], *, field: str) -> None:
        """Create the object ``uri`` with what ``write`` writes, checked again at write time:
        400 when a directory on the way is a link or a file, 400 (FAILED_PRECONDITION) when the
        object exists. The parts of ``uri`` were checked by :meth:`split`."""
        bucket, name = self.split(uri, field=field)
        try:
            write_file(self.root, PurePosixPath(bucket, name), write)
        except FileExistsError:
            raise failed_precondition(
                f"{field}: {uri} already exists; export never overwrites an object"
            ) from None
        except UnsafePath:
            raise invalid_argument(
                f"{field}: {uri} cannot be written: a folder on its way is a symbolic link or a file"
            ) from None
        except OSError as exc:
            raise invalid_argument(f"{field}: could not write {uri} ({self.describe(exc)})") from None

    def describe(self, exc: BaseException) -> str:
        """An error's text for a client: never the server's paths (the root becomes ``gs:/``)."""
        if isinstance(exc, OSError) and exc.strerror:
            return exc.strerror
        return scrub(str(exc), self._root, "gs:/") if self._root is not None else scrub(str(exc))


#: BigQuery's naming rules (the ASCII subset): project ids, dataset ids, table ids; checked with
#: fullmatch (``$`` alone lets a trailing newline through)
_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_DATASET = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
_TABLE = re.compile(r"^[A-Za-z0-9_-]{1,1024}$")
BIGQUERY_DIR = ".bigquery"


class BigQuery:
    """Maps BigQuery ``project.dataset.table`` names to files under ``root`` (see module docstring)."""

    def __init__(self, storage: Storage, root: str | Path | None = None) -> None:
        self._storage = storage
        self._root = Path(root).resolve() if root is not None else None

    @property
    def root(self) -> Path:
        """The directory standing in for BigQuery (created on first use when it is the default)."""
        if self._root is None:
            self._root = self._storage.root / BIGQUERY_DIR
            self._root.mkdir(parents=True, exist_ok=True)
        return self._root

    def dataset(self, project: object, dataset: object, *, field: str = "bigqueryDataset") -> None:
        """Check that a BigQuery dataset exists (its directory, reached from the root without
        following a link): 404 naming ``field`` when it does not, 400 for a malformed name."""
        self._names(project, dataset, field)
        try:
            os.close(open_directory(self.root, [str(project), str(dataset)]))
        except OSError:
            raise not_found(f"{field}: BigQuery dataset {project}:{dataset} not found") from None

    @staticmethod
    def _names(project: object, dataset: object, field: str) -> None:
        if not isinstance(project, str) or not _PROJECT.fullmatch(project):
            raise invalid_argument(f"projectId: {project!r} is not a valid project id")
        if not isinstance(dataset, str) or not _DATASET.fullmatch(dataset):
            raise invalid_argument(
                f"{field}: {dataset!r} is not a valid BigQuery dataset id (letters, digits and underscores)"
            )

    @staticmethod
    def check_table(table: object, *, field: str = "bigqueryTable") -> str:
        if not isinstance(table, str) or not _TABLE.fullmatch(table):
            raise invalid_argument(
                f"{field}: {table!r} is not a valid BigQuery table id "
                "(letters, digits, underscores and dashes)"
            )
        return table

    def write(self, project: str, dataset: str, table: str, lines: Iterable[str]) -> None:
        """Create or overwrite a table with ``lines`` (newline-delimited JSON), checked again at
        write time (:func:`write_file`: through a descriptor of the dataset's directory, into a
        temporary file renamed over the table, so a reader never sees half a table and a link
        put in the way is replaced, never followed)."""
        self._names(project, dataset, "bigqueryDataset")
        self.check_table(table)

        def write_lines(handle: BinaryIO) -> None:
            handle.writelines(line.encode("utf-8") for line in lines)

        try:
            write_file(self.root, PurePosixPath(project, dataset, f"{table}.jsonl"), write_lines,
                       replace=True, create=False)
        except OSError:
            raise not_found(f"bigqueryDataset: BigQuery dataset {project}:{dataset} not found") from None
