"""Seed files: fixtures loaded at start-up (``--seed``), by the admin API or the plugin.

Everything goes through the backend's public methods as the built-in owner,
so every rule (required fields, references, ids) applies to seed data too; a
bad entry is an error naming its place in the file (``projects.p1.datasets[0]
.annotationSets[1].annotations[3]: ...``). A YAML/JSON mapping with any of:

``tokens``, ``apiKeys``
    the two sections of a ``--tokens`` file (:mod:`mockserver.auth`);
``principals``
    ``{name, roles, projectId}`` (token ``<name>-token`` for ``user:<name>@example.com``) or
    ``{member, token, roles, projectId, scopes}``;
``iam``
    :meth:`Iam.load_config` input: ``groups``, ``policies``, ``projects.<id>.bindings``;
``referenceSets``
    ``{key, assemblyId, references: [{name, length}]}``; ``key`` names it inside the file;
    ``fasta`` (a local FASTA file, copied into storage like a read group set's ``path``, or a
    ``gs://`` URI already under the storage root) gives the set its sequences: references are
    the file's (or those listed), with real checksums, and ``references.bases.list`` serves them;
``projects.<id>``
    ``bindings`` (added to the roles ``principals`` granted) and ``datasets``, each with
    ``annotationSets`` (+ ``annotations``), ``variantSets`` (+ ``callSets``) and
    ``readGroupSets`` (``{path}``: a local SAM/BAM/CRAM; or ``{sourceUris}`` already under the
    storage root).

Which files a ``path`` (or ``fasta``) may name (:meth:`_Loader.stage`): only files under the
storage root (imported where they are), the seed file's folder (``base_dir``: a
``--seed`` file given at start-up) or ``--seed-root`` (``seed_root``); a seed sent
to the admin API has no folder of its own, so its relative paths start at
``--seed-root`` (else the storage root). Links are resolved before the check, a
file is opened without following links below its root, nothing is copied before
the check passes, and an error never says whether a path outside those folders
exists nor prints a server path the caller did not write.

``examples/fixtures.yaml`` uses every section; docs/usage.md shows it and a test loads it.
``load_seed`` returns how many of each thing it created.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from mockserver.auth import parse_config_text
from mockserver.backend.annotations import BATCH_MAX
from mockserver.backend.principals import DEFAULT_OWNER
from mockserver.backend.roles import ROLES
from mockserver.backend.storage import UnsafePath, open_file, remove_file, write_file
from mockserver.errors import ApiError

if TYPE_CHECKING:
    from mockserver.auth import TokenRegistry
    from mockserver.backend import Backend

TOP_LEVEL = frozenset({"tokens", "apiKeys", "principals", "iam", "referenceSets", "projects"})
SEED_BUCKET = "genomics-mock-seed"


class SeedError(ValueError):
    """A seed file or entry that cannot be loaded (the message names the place)."""


def read_seed_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedError(f"cannot read seed file {path}: {exc}") from None
    return parse_seed(text, f"seed file {path}")


def parse_seed(text: str, where: str = "seed") -> dict[str, Any]:
    try:
        data = parse_config_text(text, where)
    except ValueError as exc:
        raise SeedError(str(exc)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SeedError(f"{where}: a seed file must hold an object (tokens, principals, iam, projects ...)")
    return data


def role_name(role: Any) -> str:
    """``viewer`` -> ``roles/genomics.viewer``; full names pass through."""
    if not isinstance(role, str):
        raise SeedError(f"role must be a string, got {role!r}")
    for candidate in (role, f"roles/{role}", f"roles/genomics.{role}"):
        if candidate in ROLES:
            return candidate
    raise SeedError(f"unknown role {role!r} (known: {', '.join(sorted(ROLES))})")


def member_for(name: str) -> str:
    if ":" in name:
        return name
    return f"user:{name}@example.com" if "@" not in name else f"user:{name}"


def add_principal(
    backend: Backend,
    tokens: TokenRegistry | None,
    *,
    name: str | None = None,
    member: str | None = None,
    token: str | None = None,
    roles: list[str] | tuple[str, ...] = (),
    project_id: str | None = None,
    scopes: list[str] | None = None,
) -> dict[str, Any]:
    """Register a bearer token for a principal and grant it project roles; returns {member, token}."""
    if not member and not name:
        raise SeedError("a principal needs name or member")
    member = member or member_for(str(name))
    token = token or f"{(name or member.partition(':')[2].partition('@')[0])}-token"
    checked_roles = [role_name(r) for r in roles]
    if checked_roles and not project_id:
        raise SeedError("projectId is required to grant roles")
    with backend.lock:  # the tokens change under the backend lock too: one journal frame holds both
        if tokens is not None:
            try:
                tokens.add_token(token, member, scopes)
            except ValueError as exc:
                raise SeedError(str(exc)) from None
        for role in checked_roles:
            try:
                backend.iam.add_project_binding(str(project_id), role, member)
            except ApiError as exc:
                raise SeedError(exc.message) from None
    return {"member": member, "token": token, "roles": checked_roles, "projectId": project_id}


class _Loader:
    def __init__(
        self, backend: Backend, tokens: TokenRegistry | None, base_dir: Path | None, seed_root: Path | None
    ) -> None:
        self.backend = backend
        self.tokens = tokens
        storage_root = backend.storage.root
        #: where relative paths start
        self.base_dir = base_dir or seed_root or storage_root
        #: label -> folder whose files may be copied into storage (resolved)
        self.roots = {
            label: Path(os.path.realpath(folder))
            for label, folder in (("the seed file's folder", base_dir), ("--seed-root", seed_root))
            if folder is not None
        }
        self.storage_root = storage_root
        self.keys: dict[str, str] = {}  # seed-local key -> server id (reference sets)
        self.counts: dict[str, int] = {}
        #: objects this load created in storage (removed again when the load fails)
        self.created: list[PurePosixPath] = []

    def _count(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n

    def call(self, where: str, func: Any, *args: Any) -> Any:
        try:
            return func(DEFAULT_OWNER, *args)
        except ApiError as exc:
            raise SeedError(f"{where}: {exc.message}") from None

    def load(self, data: Mapping[str, Any]) -> dict[str, int]:
        unknown = set(data) - TOP_LEVEL
        if unknown:
            raise SeedError(f"unknown seed keys: {', '.join(sorted(map(str, unknown)))} "
                            f"(expected {', '.join(sorted(TOP_LEVEL))})")
        credentials = {key: data[key] for key in ("tokens", "apiKeys") if data.get(key)}
        if credentials:
            if self.tokens is None:
                raise SeedError("tokens: this server has no token registry")
            try:
                self.tokens.load(credentials)  # the two sections of a --tokens file
            except ValueError as exc:
                raise SeedError(str(exc)) from None
            for key in credentials:
                self._count(key, len(credentials[key]))
        if data.get("iam"):
            try:
                self.backend.iam.load_config(data["iam"])
            except ApiError as exc:
                raise SeedError(f"iam: {exc.message}") from None
        for i, entry in enumerate(_list(data, "principals", "principals")):
            where = f"principals[{i}]"
            entry = _object(entry, where)
            _only(entry, where, {"name", "member", "token", "roles", "projectId", "scopes"})
            try:
                add_principal(
                    self.backend, self.tokens, name=entry.get("name"), member=entry.get("member"),
                    token=entry.get("token"), roles=entry.get("roles") or [],
                    project_id=entry.get("projectId"), scopes=entry.get("scopes"),
                )
            except SeedError as exc:
                raise SeedError(f"{where}: {exc}") from None
            self._count("principals")
        for i, entry in enumerate(_list(data, "referenceSets", "referenceSets")):
            self.reference_set(_object(entry, f"referenceSets[{i}]"), f"referenceSets[{i}]")
        projects = data.get("projects") or {}
        if not isinstance(projects, Mapping):
            raise SeedError("projects must be an object keyed by project id")
        for project_id, project in projects.items():
            self.project(str(project_id), _object(project or {}, f"projects.{project_id}"))
        return dict(self.counts)

    def reference_set(self, entry: Mapping[str, Any], where: str) -> None:
        _only(entry, where, {"key", "id", "assemblyId", "sourceUri", "description", "references", "fasta"})
        fasta = entry.get("fasta") or None
        if fasta is not None and not (isinstance(fasta, str) and fasta.startswith("gs://")):
            fasta = self.stage(fasta, f"{where}.fasta")
        try:
            created = self.backend.reference_sets.create(
                entry.get("references"),  # type: ignore[arg-type]  # checked by the backend
                assembly_id=entry.get("assemblyId"),
                source_uri=entry.get("sourceUri"), description=entry.get("description"),
                reference_set_id=entry.get("id"), fasta=fasta,
            )
        except ApiError as exc:
            raise SeedError(f"{where}: {exc.message}") from None
        if entry.get("key"):
            self.keys[str(entry["key"])] = created["id"]
        self._count("referenceSets")

    def project(self, project_id: str, project: Mapping[str, Any]) -> None:
        where = f"projects.{project_id}"
        _only(project, where, {"bindings", "datasets"})
        # added to the grants made so far (principals: ...), never replacing them
        for i, binding in enumerate(_list(project, "bindings", where)):
            here = f"{where}.bindings[{i}]"
            binding = _object(binding, here)
            _only(binding, here, {"role", "members"})
            members = binding.get("members")
            if not isinstance(members, list) or not members:
                raise SeedError(f"{here}.members must be a non-empty list")
            try:
                role = role_name(binding.get("role"))
            except SeedError as exc:
                raise SeedError(f"{here}.role: {exc}") from None
            for member in members:
                try:
                    self.backend.iam.add_project_binding(project_id, role, member)
                except ApiError as exc:
                    raise SeedError(f"{here}: {exc.message}") from None
        for i, dataset in enumerate(_list(project, "datasets", where)):
            self.dataset(project_id, _object(dataset, f"{where}.datasets[{i}]"), f"{where}.datasets[{i}]")

    def dataset(self, project_id: str, entry: Mapping[str, Any], where: str) -> None:
        _only(entry, where, {"name", "annotationSets", "variantSets", "readGroupSets"})
        body = {"projectId": project_id, "name": entry.get("name")}
        ds = self.call(where, self.backend.datasets.create, body)
        self._count("datasets")
        for i, item in enumerate(_list(entry, "annotationSets", where)):
            here = f"{where}.annotationSets[{i}]"
            self.annotation_set(ds["id"], _object(item, here), here)
        for i, item in enumerate(_list(entry, "variantSets", where)):
            here = f"{where}.variantSets[{i}]"
            self.variant_set(ds["id"], _object(item, here), here)
        for i, item in enumerate(_list(entry, "readGroupSets", where)):
            here = f"{where}.readGroupSets[{i}]"
            self.read_group_set(ds["id"], _object(item, here), here)

    def _set_body(self, dataset_id: str, entry: Mapping[str, Any], children: str) -> dict[str, Any]:
        """A set's create body: its seed entry without its children, in the dataset, with a
        ``referenceSetId`` that names a seeded reference set's key resolved to its id."""
        body = {k: v for k, v in entry.items() if k != children}
        body["datasetId"] = dataset_id
        if body.get("referenceSetId") in self.keys:
            body["referenceSetId"] = self.keys[body["referenceSetId"]]
        return body

    def annotation_set(self, dataset_id: str, entry: Mapping[str, Any], where: str) -> None:
        body = self._set_body(dataset_id, entry, "annotations")
        created = self.call(where, self.backend.annotation_sets.create, body)
        self._count("annotationSets")
        annotations = [dict(_object(a, f"{where}.annotations[{j}]"), annotationSetId=created["id"])
                       for j, a in enumerate(_list(entry, "annotations", where))]
        for start in range(0, len(annotations), BATCH_MAX):  # batchCreate's limit per call
            chunk = annotations[start:start + BATCH_MAX]
            result = self.call(f"{where}.annotations", self.backend.annotations.batch_create,
                               {"annotations": chunk})
            for j, item in enumerate(result.get("entries", [])):
                status = item.get("status")
                if status and status.get("code"):
                    raise SeedError(f"{where}.annotations[{start + j}]: {status.get('message')}")
            self._count("annotations", len(chunk))

    def variant_set(self, dataset_id: str, entry: Mapping[str, Any], where: str) -> None:
        body = self._set_body(dataset_id, entry, "callSets")
        created = self.call(where, self.backend.variant_sets.create, body)
        self._count("variantSets")
        for j, call_set in enumerate(_list(entry, "callSets", where)):
            here = f"{where}.callSets[{j}]"
            self.call(here, self.backend.call_sets.create,
                      dict(_object(call_set, here), variantSetIds=[created["id"]]))
            self._count("callSets")

    def read_group_set(self, dataset_id: str, entry: Mapping[str, Any], where: str) -> None:
        _only(entry, where, {"path", "sourceUris", "referenceSetId", "partitionStrategy"})
        uris = list(entry.get("sourceUris") or [])
        if entry.get("path"):
            uris.append(self.stage(entry["path"], f"{where}.path"))
        if not uris:
            raise SeedError(f"{where}: a read group set needs path or sourceUris")
        body: dict[str, Any] = {"datasetId": dataset_id, "sourceUris": uris}
        for key in ("referenceSetId", "partitionStrategy"):
            if entry.get(key):
                body[key] = self.keys.get(entry[key], entry[key])
        operations = self.backend.operations
        mode, operations.mode = operations.mode, "immediate"
        try:
            op = self.call(where, self.backend.read_group_sets.import_, body)
        finally:
            operations.mode = mode
        if op.get("error"):
            raise SeedError(f"{where}: import failed: {op['error'].get('message')}")
        self._count("readGroupSets", len(op.get("response", {}).get("readGroupSetIds", [])) or 1)

    def stage(self, given: Any, where: str) -> str:
        """The ``gs://`` URI to import a seed's ``path`` from: the file itself when it is under the
        storage root, else a copy in the seed bucket of a file under an allowed folder."""
        if not isinstance(given, str):
            raise SeedError(f"{where} must be a string")
        source = Path(given)
        if not source.is_absolute():
            source = self.base_dir / source
        resolved = Path(os.path.realpath(source))  # links resolved: a link out of a root is out
        if resolved.is_relative_to(self.storage_root):
            parts = resolved.relative_to(self.storage_root).parts
            if len(parts) < 2:
                raise SeedError(f"{where}: {given!r} is not a file in a bucket of the storage root")
            return "gs://" + "/".join(parts)
        for root in self.roots.values():
            if resolved.is_relative_to(root):
                return self._copy(root, PurePosixPath(resolved.relative_to(root)), given, where)
        allowed = ", ".join([*self.roots, "--storage-root"])
        raise SeedError(f"{where}: {given!r} is not under a folder a seed may read ({allowed})")

    def _copy(self, root: Path, relative: PurePosixPath, given: str, where: str) -> str:
        """Copy ``root/relative`` into the seed bucket (an object of the same name and size is
        taken as the same file and kept)."""
        try:
            fd = open_file(root, relative)
        except FileNotFoundError:
            raise SeedError(f"{where}: no such file {given!r}") from None
        except OSError:  # a link below the root (a race), a folder, no permission
            raise SeedError(f"{where}: {given!r} cannot be read as a file") from None
        target = PurePosixPath(SEED_BUCKET, relative.name)
        with os.fdopen(fd, "rb") as source:
            size = os.fstat(source.fileno()).st_size
            existing = self.storage_root / target
            if existing.is_file() and not existing.is_symlink() and existing.stat().st_size == size:
                return f"gs://{target}"
            try:
                write_file(self.storage_root, target, lambda out: shutil.copyfileobj(source, out),
                           replace=True)
            except (UnsafePath, OSError):
                raise SeedError(f"{where}: {given!r} could not be copied into storage") from None
        self.created.append(target)
        return f"gs://{target}"


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise SeedError(f"{where}.{key} must be a list" if where != key else f"{key} must be a list")
    return value


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SeedError(f"{where} must be an object")
    return value


def _only(entry: Mapping[str, Any], where: str, allowed: set[str]) -> None:
    unknown = set(entry) - allowed
    if unknown:
        raise SeedError(f"{where}: unknown fields {', '.join(sorted(map(str, unknown)))}")


def load_seed(
    backend: Backend,
    data: Mapping[str, Any],
    tokens: TokenRegistry | None = None,
    *,
    base_dir: str | Path | None = None,
    seed_root: str | Path | None = None,
) -> dict[str, int]:
    """Create everything ``data`` describes; returns counts by kind.

    BAM ``path`` entries may name files under ``base_dir`` (the seed file's folder),
    ``seed_root`` or the storage root, and relative ones start at the first of those
    given (see the module docstring).

    Atomic: when any entry fails, the backend (and token registry) are put back as they were,
    and files copied into storage are removed.
    """
    from mockserver.snapshot import restore, snapshot_bytes

    if not isinstance(data, Mapping):
        raise SeedError("a seed must be an object (tokens, principals, iam, projects ...)")
    with backend.lock:
        before = snapshot_bytes(backend, tokens)
        loader = _Loader(
            backend, tokens, Path(base_dir) if base_dir else None, Path(seed_root) if seed_root else None
        )
        try:
            return loader.load(data)
        except SeedError:
            restore(backend, before, tokens)
            for created in loader.created:
                remove_file(loader.storage_root, created)
            raise
