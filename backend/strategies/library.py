"""The strategy library: hive_core's shipped examples plus uploaded files, each upload kept in every version.

An upload is checked statically first (it must parse and define a Strategy subclass), then described by
hive_core in a sandbox (backend/sandbox: it imports it there, and yields its description and params schema).
Nothing is stored when either refuses. Without a usable sandbox, the module is never imported: the static
checks alone decide, and the answer says so.
"""
from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

import hive_core
from backend import hive_cli
from backend.domain.strategies import StrategyDetail, StrategyOut, StrategyVersion, StrategyVersionDetail
from backend.errors import Conflict, HiveError, InvalidInput, NotFound, Unavailable, not_found
from backend.sandbox.choice import SandboxChoice
from backend.store import Store, StrategyVersionRow
from backend.store.repositories.instances import InstanceRepository
from backend.store.repositories.strategies import StrategyRepository
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
            if file is not None:
                versions = strategies.versions(file.id)
                latest = versions[-1]
                return StrategyDetail(
                    name=name, kind="uploaded", version=latest.version, description=latest.description,
                    params_schema=latest.params_schema, updated_at=latest.created_at, source=latest.source,
                    versions=[_version_out(v) for v in versions],
                )
        for item in self._shipped_or_empty():
            if item["name"] == name:
                path = SHIPPED_DIR / f"{name}.py"
                return StrategyDetail(name=name, kind="builtin", description=item.get("description") or "",
                                      params_schema=item.get("params_schema") or {},
                                      source=path.read_text() if path.is_file() else "")
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
                                         params_schema=row.params_schema, **_version_out(row).model_dump())

    def latest_sources(self, names: set[str]) -> dict[str, tuple[int, str]]:
        """For the uploaded strategies among `names`: their latest (version, source)."""
        with self.store.session() as session:
            return {file.name: (latest.version, latest.source)
                    for file, latest in StrategyRepository(session).latest() if file.name in names}

    # --- writing ---------------------------------------------------------------------------------
    def upload(self, filename: str, data: bytes) -> StrategyDetail:
        name = name_from_filename(filename)
        source = decode_source(data)
        if name in self.shipped_names():
            raise Conflict("name_taken",
                           f"{name!r} is the name of a shipped example strategy; rename your file")
        if name in self._uploaded_names():
            raise Conflict("duplicate_name",
                           f"a strategy named {name!r} is already uploaded; save a new version of it instead")
        description, validation = self._validate(name, source)
        now = time.time()
        try:
            with self.store.session() as session:
                strategies = StrategyRepository(session)
                file_id = strategies.add_file(name, now)
                strategies.add_version(_version_row(file_id, 1, source, now, description))
        except IntegrityError:
            raise Conflict("duplicate_name", f"a strategy named {name!r} is already uploaded") from None
        return self.get(name).model_copy(update={"validation": validation})

    def save(self, name: str, source: str) -> StrategyDetail:
        """Store `source` as the next version of the uploaded strategy `name` (same checks as an upload)."""
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
                    strategies.add_version(_version_row(file_id, number, source, time.time(), description))
                break
            except IntegrityError:  # someone saved the same number at the same moment: take the next
                continue
        return self.get(name).model_copy(update={"validation": validation})

    def put(self, name: str, source: str) -> StrategyDetail:
        """Upload `name`, or store `source` as its next version when it exists (Hummingbot's POST /scripts/{name})."""
        if name in self._uploaded_names():
            return self.save(name, source)
        return self.upload(f"{name}.py", source.encode("utf-8"))

    def delete(self, name: str) -> None:
        """Delete an uploaded strategy with all its versions; refused while an instance is configured with it."""
        with self.store.session() as session:
            strategies = StrategyRepository(session)
            file = strategies.file(name)
            if file is None:
                if name in self._shipped_names_or_empty():
                    raise Conflict("read_only", f"{name!r} is a shipped example and cannot be deleted")
                raise not_found("strategy", name)
            users = sorted(row.name for row in InstanceRepository(session).all()
                           if any(s.get("strategy") == name for s in row.spec["create"]["strategies"]))
            if users:
                raise Conflict("in_use", f"strategy {name!r} is used by instance{'s' if len(users) > 1 else ''} "
                                               f"{', '.join(users)}; delete {'them' if len(users) > 1 else 'it'} first")
            strategies.delete_file(file)

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


def _version_row(file_id: int, number: int, source: str, now: float, description: dict[str, Any]) -> StrategyVersionRow:
    return StrategyVersionRow(file_id=file_id, version=number, source=source, created_at=now,
                              description=description.get("description") or "",
                              params_schema=description.get("params_schema") or {})


def _version_out(row: StrategyVersionRow) -> StrategyVersion:
    return StrategyVersion(version=row.version, created_at=row.created_at, size=len(row.source.encode("utf-8")))
