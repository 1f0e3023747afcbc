"""The strategy library: shipped examples and uploaded files, every upload kept in all its versions."""
from fastapi import APIRouter, Request, UploadFile

from backend.api.audit import note
from backend.api.deps import LibraryDep
from backend.api.schemas import StrategySave
from backend.domain.strategies import StrategyDetail, StrategyOut, StrategyVersionDetail

router = APIRouter(prefix="/strategies", tags=["strategies"])


@router.get("", response_model=list[StrategyOut])
def list_strategies(library: LibraryDep) -> list[StrategyOut]:
    return library.entries()


@router.post("", response_model=StrategyDetail, status_code=201)
def upload_strategy(library: LibraryDep, file: UploadFile, request: Request) -> StrategyDetail:
    data = file.file.read(1024 * 1024 + 1)
    filename = (file.filename or "")[:100]
    note(request, f"file={filename!r}")
    stored = library.upload(filename, data)
    note(request, f"file={filename!r} stored as {stored.name} version {stored.version}")
    return stored


@router.get("/{name}", response_model=StrategyDetail)
def get_strategy(library: LibraryDep, name: str) -> StrategyDetail:
    return library.get(name)


@router.put("/{name}", response_model=StrategyDetail)
def save_strategy(library: LibraryDep, name: str, body: StrategySave, request: Request) -> StrategyDetail:
    saved = library.save(name, body.source)
    note(request, f"version {saved.version}")
    return saved


@router.get("/{name}/versions/{version}", response_model=StrategyVersionDetail)
def strategy_version(library: LibraryDep, name: str, version: int) -> StrategyVersionDetail:
    return library.version(name, version)
