"""The strategy library: shipped examples and uploaded files, every upload kept in all its versions."""
from fastapi import APIRouter, UploadFile

from backend.api.deps import LibraryDep
from backend.api.schemas import StrategySave
from backend.domain.strategies import StrategyDetail, StrategyOut, StrategyVersionDetail

router = APIRouter(prefix="/strategies", tags=["strategies"])


@router.get("", response_model=list[StrategyOut])
def list_strategies(library: LibraryDep) -> list[StrategyOut]:
    return library.entries()


@router.post("", response_model=StrategyDetail, status_code=201)
def upload_strategy(library: LibraryDep, file: UploadFile) -> StrategyDetail:
    data = file.file.read(1024 * 1024 + 1)
    return library.upload(file.filename or "", data)


@router.get("/{name}", response_model=StrategyDetail)
def get_strategy(library: LibraryDep, name: str) -> StrategyDetail:
    return library.get(name)


@router.put("/{name}", response_model=StrategyDetail)
def save_strategy(library: LibraryDep, name: str, body: StrategySave) -> StrategyDetail:
    return library.save(name, body.source)


@router.get("/{name}/versions/{version}", response_model=StrategyVersionDetail)
def strategy_version(library: LibraryDep, name: str, version: int) -> StrategyVersionDetail:
    return library.version(name, version)
