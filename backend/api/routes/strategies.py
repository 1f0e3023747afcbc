"""The strategy library: shipped examples and uploaded files, every upload kept in all its versions.

Each change is audited by the library with its author (the login), refusals included."""
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, UploadFile

from backend.api.deps import CurrentUser, LibraryDep
from backend.api.schemas import StrategyNew, StrategyRename, StrategySave
from backend.domain.strategies import StrategyDetail, StrategyDiff, StrategyOut, StrategyVersionDetail

router = APIRouter(prefix="/strategies", tags=["strategies"])
MAX_VERSION = 2**31 - 1  # a version number the store's integer column holds (a larger one cannot exist)
Version = Annotated[int, Path(ge=1, le=MAX_VERSION)]


@router.get("", response_model=list[StrategyOut])
def list_strategies(library: LibraryDep) -> list[StrategyOut]:
    return library.entries()


@router.post("", response_model=StrategyDetail, status_code=201)
def upload_strategy(library: LibraryDep, user: CurrentUser, file: UploadFile) -> StrategyDetail:
    """Store a .py file (at most 512 KB) as version 1 of the strategy named after it, once it is checked."""
    data = file.file.read(1024 * 1024 + 1)
    return library.upload(file.filename or "", data, author=user)


# before /{name}: "new" is not a strategy's name here
@router.post("/new", response_model=StrategyDetail, status_code=201)
def new_strategy(library: LibraryDep, user: CurrentUser, body: StrategyNew) -> StrategyDetail:
    """A new strategy whose version 1 is a minimal, valid starter to edit."""
    return library.new(body.name, author=user)


@router.get("/{name}", response_model=StrategyDetail)
def get_strategy(library: LibraryDep, name: str) -> StrategyDetail:
    """Its source, its versions (with author, note and the instances configured with each) and its users."""
    return library.get(name)


@router.put("/{name}", response_model=StrategyDetail)
def save_strategy(library: LibraryDep, user: CurrentUser, name: str, body: StrategySave) -> StrategyDetail:
    return library.save(name, body.source, author=user)


@router.delete("/{name}", status_code=204)
def delete_strategy(library: LibraryDep, user: CurrentUser, name: str) -> Response:
    """Refused (409) while an instance is configured with it; the answer names them."""
    library.delete(name, author=user)
    return Response(status_code=204)


@router.post("/{name}/rename", response_model=StrategyDetail)
def rename_strategy(library: LibraryDep, user: CurrentUser, name: str, body: StrategyRename) -> StrategyDetail:
    """Instances name their strategies, so it is refused (409) while an instance is configured with it."""
    return library.rename(name, body.to, author=user)


@router.get("/{name}/versions/{version}", response_model=StrategyVersionDetail)
def strategy_version(library: LibraryDep, name: str, version: Version) -> StrategyVersionDetail:
    return library.version(name, version)


@router.post("/{name}/versions/{version}/restore", response_model=StrategyDetail)
def restore_strategy_version(library: LibraryDep, user: CurrentUser, name: str,
                             version: Version) -> StrategyDetail:
    """Roll back: a new version with the source of `version`, noted "restored from v<version>"."""
    return library.restore(name, version, author=user)


@router.get("/{name}/diff", response_model=StrategyDiff)
def strategy_diff(library: LibraryDep, name: str,
                  from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_VERSION)],
                  to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_VERSION)]) -> StrategyDiff:
    """The unified diff from one version to another."""
    return library.diff(name, from_version, to_version)
