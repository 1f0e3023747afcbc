"""The strategy library: hive_core's shipped examples plus uploaded files, each upload kept in every version.

An upload is checked statically first (it must parse and define a Strategy subclass), then described by
hive_core in a sandbox (backend/sandbox: it imports it there, and yields its description and params schema).
Nothing is stored when either refuses. Without a usable sandbox, the module is never imported: the static
checks alone decide, and the answer says so.

Every version records who saved it. Instances name their strategies by name, so a strategy an instance is
configured with can be neither renamed nor deleted: the refusal names the instances. Every change, and every
refusal of one, is in the audit log (action `strategy`).
"""
from __future__ import annotations

import difflib
import logging
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import hive_core
from backend import hive_cli
from backend.domain.strategies import (
    StrategyDetail,
    StrategyDiff,
    StrategyOut,
    StrategyVersion,
    StrategyVersionDetail,
)
from backend.errors import Conflict, HiveError, InvalidInput, NotFound, Unavailable, not_found
from backend.sandbox.choice import SandboxChoice
from backend.store import AuditRow, Store, StrategyFileRow, StrategyVersionRow
from backend.store.repositories.events import EventRepository
from backend.store.repositories.instances import InstanceRepository
from backend.store.repositories.strategies import StrategyRepository
from backend.strategies import starter
from backend.strategies.validation import check_source, decode_source, docstring_of, invalid, name_from_filename

log = logging.getLogger(__name__)
SHIPPED_DIR = Path(hive_core.__file__).resolve().parent / "strategies"


class StrategyLibrary:
    def __init__(self, store: Store, core_argv: list[str], sandboxes: SandboxChoice) -> None:
        self.store = store
        self.core_argv = core_argv
        self.sandboxes = sandboxes
        self._shipped: list[dict[str, Any]] | None = None
        self._shipped_lock = threading.Lock()

    # --- shipped examples ------------------------------------------------------------------------
    def shipped(self) -> list[dict[str, Any]]:
        """hive_core's own strategies, described once per backend run."""
        with self._shipped_lock:
            if self._shipped is None:
                try:
                    self._shipped = hive_cli.describe(hive_cli.on_host(self.core_argv))
                except hive_cli.CoreError as error:
                    raise Unavailable("core_unavailable",
                                      f"hive_core cannot describe its strategies: {error}") from None
            return self._shipped

    def shipped_names(self) -> set[str]:
        return {item["name"] for item in self.shipped()}

    def _shipped_or_empty(self) -> list[dict[str, Any]]:
        try:
            return self.shipped()
        except HiveError as error:
            log.error("%s", error.detail)
            return []

    # --- reading ---------------------------------------------------------------------------------
    def entries(self) -> list[StrategyOut]:
        out = [StrategyOut(name=item["name"], kind="builtin", description=item.get("description") or "",
                           params_schema=item.get("params_schema") or {}) for item in self._shipped_or_empty()]
        with self.store.session() as session:
            for file, latest in StrategyRepository(session).latest():
                out.append(StrategyOut(name=file.name, kind="uploaded", version=latest.version,
                                       description=latest.description, params_schema=latest.params_schema,
                                       updated_at=latest.created_at))
        return sorted(out, key=lambda s: (s.kind != "builtin", s.name))

    def names(self) -> list[str]:
        return sorted({item["name"] for item in self._shipped_or_empty()} | set(self._uploaded_names()))

    def _uploaded_names(self) -> list[str]:
        with self.store.session() as session:
            return StrategyRepository(session).names()

    def get(self, name: str) -> StrategyDetail:
        with self.store.session() as session:
            strategies = StrategyRepository(session)
            file = strategies.file(name)
            users = _instances_using(session, name)
            if file is not None:
                versions = strategies.versions(file.id)
                latest = versions[-1]
                return StrategyDetail(
                    name=name, kind="uploaded", version=latest.version, description=latest.description,
                    params_schema=latest.params_schema, updated_at=latest.created_at, source=latest.source,
                    versions=[_version_out(v, users) for v in versions], used_by=sorted(users),
                )
        for item in self._shipped_or_empty():
            if item["name"] == name:
                path = SHIPPED_DIR / f"{name}.py"
                return StrategyDetail(name=name, kind="builtin", description=item.get("description") or "",
                                      params_schema=item.get("params_schema") or {},
                                      source=path.read_text() if path.is_file() else "", used_by=sorted(users))
        raise not_found("strategy", name)

    def version(self, name: str, version: int) -> StrategyVersionDetail:
        with self.store.session() as session:
            strategies = StrategyRepository(session)
            row = strategies.version(name, version)
            if row is None:
                if strategies.file(name) is None:
                    raise not_found("strategy", name)
                raise NotFound("not_found", f"strategy {name!r} has no version {version}")
            return StrategyVersionDetail(name=name, source=row.source, description=row.description,
                                         params_schema=row.params_schema,
                                         **_version_out(row, _instances_using(session, name)).model_dump())

    def diff(self, name: str, from_version: int, to_version: int) -> StrategyDiff:
        """The unified diff turning version `from_version` of `name` into `to_version`."""
        old, new = self.version(name, from_version), self.version(name, to_version)
        lines = difflib.unified_diff(old.source.splitlines(), new.source.splitlines(),
                                     fromfile=f"{name}.py v{from_version}", tofile=f"{name}.py v{to_version}",
                                     lineterm="")
        return StrategyDiff(name=name, from_version=from_version, to_version=to_version, diff="\n".join(lines))

    def latest_sources(self, names: set[str]) -> dict[str, tuple[int, str]]:
        """For the uploaded strategies among `names`: their latest (version, source)."""
        with self.store.session() as session:
            return {file.name: (latest.version, latest.source)
                    for file, latest in StrategyRepository(session).latest() if file.name in names}

    # --- writing ---------------------------------------------------------------------------------
    def upload(self, filename: str, data: bytes, author: str) -> StrategyDetail:
        """Store a new strategy from a file: its name is the file's stem."""
        with self._audited(author, "upload", filename[:127]):
            return self._create(name_from_filename(filename), decode_source(data), author, "")

    def new(self, name: str, author: str) -> StrategyDetail:
        """A new strategy whose first version is the starter template, named after `name`."""
        with self._audited(author, "new", name[:127]):
            name = name_from_filename(f"{name}.py")
            return self._create(name, starter.starter_source(name), author, starter.NOTE)

    def _create(self, name: str, source: str, author: str, note: str) -> StrategyDetail:
        self._check_name_free(name)
        description, validation = self._validate(name, source)
        now = time.time()
        try:
            with self.store.session() as session:
                strategies = StrategyRepository(session)
                file_id = strategies.add_file(name, now)
                strategies.add_version(_version_row(file_id, 1, source, now, description, author, note))
        except IntegrityError:
            raise Conflict("duplicate_name", f"a strategy named {name!r} is already uploaded") from None
        return self.get(name).model_copy(update={"validation": validation})

    def _check_name_free(self, name: str) -> None:
        if name in self.shipped_names():
            raise Conflict("name_taken",
                           f"{name!r} is the name of a shipped example strategy; choose another name")
        if name in self._uploaded_names():
            raise Conflict("duplicate_name",
                           f"a strategy named {name!r} is already uploaded; save a new version of it instead")

    def save(self, name: str, source: str, author: str) -> StrategyDetail:
        """Store `source` as the next version of the uploaded strategy `name` (same checks as an upload); the same
        source as the latest version's stores nothing."""
        with self._audited(author, "save", name):
            return self._save(name, source, author, "")

    def restore(self, name: str, version: int, author: str) -> StrategyDetail:
        """Roll back: a new version whose source is that of `version`, noted "restored from v<version>"."""
        with self._audited(author, "restore", f"{name} v{version}"):
            old = self.version(name, version)
            with self.store.session() as session:
                file = StrategyRepository(session).file(name)
                latest = StrategyRepository(session).latest_version(file.id) if file is not None else None
            if latest is not None and latest.source == old.source:
                raise Conflict("unchanged", f"the latest version of {name!r} (v{latest.version}) already has the "
                                            f"source of v{version}: nothing to roll back")
            return self._save(name, old.source, author, f"restored from v{version}")

    def _save(self, name: str, source: str, author: str, note: str) -> StrategyDetail:
        with self.store.session() as session:
            file = StrategyRepository(session).file(name)
            file_id = file.id if file is not None else None
        if file_id is None:
            if name in self._shipped_names_or_empty():
                raise Conflict("read_only", f"{name!r} is a shipped example and cannot be changed; "
                                            "upload a copy under another name")
            raise not_found("strategy", name)
        description, validation = self._validate(name, source)
        for _attempt in range(3):
            try:
                with self.store.session() as session:
                    strategies = StrategyRepository(session)
                    latest = strategies.latest_version(file_id)
                    if latest is not None and latest.source == source:
                        break  # nothing changed: no new version
                    number = (latest.version if latest else 0) + 1
                    strategies.add_version(_version_row(file_id, number, source, time.time(), description, author,
                                                        note))
                break
            except IntegrityError:  # someone saved the same number at the same moment: take the next
                continue
        return self.get(name).model_copy(update={"validation": validation})

    def put(self, name: str, source: str, author: str) -> StrategyDetail:
        """Upload `name`, or store `source` as its next version when it exists (Hummingbot's POST /scripts/{name})."""
        if name in self._uploaded_names():
            return self.save(name, source, author)
        return self.upload(f"{name}.py", source.encode("utf-8"), author)

    def rename(self, name: str, to: str, author: str) -> StrategyDetail:
        """Give an uploaded strategy, all its versions, another name; refused while an instance is configured with
        it (instances name their strategies: they would lose it)."""
        with self._audited(author, "rename", f"{name} -> {to[:127]}"):
            to = name_from_filename(f"{to}.py")
            if to == name:
                raise InvalidInput("invalid_name", f"{name!r} is already the strategy's name")
            self._check_name_free(to)
            try:
                with self.store.session() as session:
                    file = self._uploaded_file(session, name, "renamed")
                    _refuse_in_use(session, name, "rename")
                    file.name = to
            except IntegrityError:
                raise Conflict("duplicate_name", f"a strategy named {to!r} is already uploaded") from None
            return self.get(to)

    def delete(self, name: str, author: str) -> None:
        """Delete an uploaded strategy with all its versions; refused while an instance is configured with it."""
        with self._audited(author, "delete", name), self.store.session() as session:
            file = self._uploaded_file(session, name, "deleted")
            _refuse_in_use(session, name, "delete")
            StrategyRepository(session).delete_file(file)

    def _uploaded_file(self, session: Session, name: str, verb: str) -> StrategyFileRow:
        file = StrategyRepository(session).file(name)
        if file is None:
            if name in self._shipped_names_or_empty():
                raise Conflict("read_only", f"{name!r} is a shipped example and cannot be {verb}")
            raise not_found("strategy", name)
        return file

    @contextmanager
    def _audited(self, author: str, verb: str, subject: str) -> Iterator[None]:
        """One audit row for the change: `ok`, or `refused` with the reason."""
        try:
            yield
        except HiveError as error:
            self._audit(author, verb, "refused", f"{subject}: {error.detail}")
            raise
        self._audit(author, verb, "ok", subject)

    def _audit(self, author: str, verb: str, outcome: str, detail: str) -> None:
        log.info("audit: %s strategy %s %s %s", author, verb, outcome, detail)
        with self.store.session() as session:
            EventRepository(session).add_audit(AuditRow(ts=time.time(), actor=f"user:{author}",
                                                        action=f"strategy {verb}", outcome=outcome, detail=detail))

    def _shipped_names_or_empty(self) -> set[str]:
        return {item["name"] for item in self._shipped_or_empty()}

    def _validate(self, name: str, source: str) -> tuple[dict[str, Any], str]:
        """The strategy's description from hive_core in the sandbox, and how it was checked."""
        check_source(source, f"{name}.py")
        sandbox, how = self.sandboxes.get()
        if sandbox is None:
            return {"name": name, "description": docstring_of(source), "params_schema": {}}, how
        with tempfile.TemporaryDirectory(prefix="hive-strategy-") as directory:
            path = Path(directory) / f"{name}.py"
            path.write_text(source)
            try:
                described = hive_cli.describe(sandbox.runner(Path(directory)), file=path)
            except hive_cli.TimedOut as error:
                raise InvalidInput("import_timeout", f"importing the module took longer than {error.seconds:g} s: "
                                   f"the {sandbox.name} sandbox was stopped; do no slow work (network, sleeps, "
                                   "large computations) at module level") from None
            except hive_cli.CoreError as error:
                raise invalid(str(error).replace(str(path), f"{name}.py")) from None
        if not described:
            raise invalid(f"hive_core found no strategy in {name}.py")
        return described[0], how


def _version_row(file_id: int, number: int, source: str, now: float, description: dict[str, Any], author: str,
                 note: str) -> StrategyVersionRow:
    return StrategyVersionRow(file_id=file_id, version=number, source=source, created_at=now,
                              description=description.get("description") or "",
                              params_schema=description.get("params_schema") or {}, created_by=author, note=note)


def _version_out(row: StrategyVersionRow, users: dict[str, int | None]) -> StrategyVersion:
    return StrategyVersion(version=row.version, created_at=row.created_at, size=len(row.source.encode("utf-8")),
                           created_by=row.created_by, note=row.note,
                           instances=sorted(instance for instance, version in users.items() if version == row.version))


def _instances_using(session: Session, name: str) -> dict[str, int | None]:
    """The instances configured with strategy `name`, with the version written to their folder (None for a shipped
    strategy, which has no versions)."""
    return {row.name: row.spec.get("versions", {}).get(name) for row in InstanceRepository(session).all()
            if any(entry.get("strategy") == name for entry in row.spec["create"]["strategies"])}


def _refuse_in_use(session: Session, name: str, verb: str) -> None:
    users = sorted(_instances_using(session, name))
    if users:
        raise Conflict("in_use", f"cannot {verb} strategy {name!r}: instance{'s' if len(users) > 1 else ''} "
                                 f"{', '.join(users)} {'are' if len(users) > 1 else 'is'} configured with it; "
                                 f"delete {'them' if len(users) > 1 else 'it'} first")
