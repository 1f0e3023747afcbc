"""The strategy library's entries, as the services report them."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class StrategyOut(BaseModel):
    name: str
    kind: Literal["builtin", "uploaded"]
    version: int | None = Field(None, description="latest version; None for shipped examples")
    description: str = ""
    params_schema: dict[str, Any] = Field(default_factory=dict, description="JSON schema of the strategy's params")
    updated_at: float | None = None


class StrategyVersion(BaseModel):
    version: int
    created_at: float
    size: int


class StrategyDetail(StrategyOut):
    source: str
    versions: list[StrategyVersion] = Field(default_factory=list)
    validation: str | None = Field(None, description="how an upload or save was checked (in which sandbox, or "
                                                     "statically only); only in the answer to one")


class StrategyVersionDetail(StrategyVersion):
    """One stored version of an uploaded strategy, with its source."""

    name: str
    source: str
    description: str = ""
    params_schema: dict[str, Any] = Field(default_factory=dict)
