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
    created_by: str = Field("unknown", description="the login that saved it (\"unknown\" for versions saved before "
                                                   "authors were recorded)")
    note: str = Field("", description="how it came to be when not by an edit: \"restored from v3\", \"new from "
                                      "the starter template\"")
    instances: list[str] = Field(default_factory=list, description="the instances configured with this version "
                                                                    "(written to their folder at their last start)")


class StrategyDetail(StrategyOut):
    source: str
    versions: list[StrategyVersion] = Field(default_factory=list)
    used_by: list[str] = Field(default_factory=list, description="the instances configured with this strategy, any "
                                                                 "version: it cannot be renamed or deleted until "
                                                                 "they are deleted")
    validation: str | None = Field(None, description="how an upload or save was checked (in which sandbox, or "
                                                     "statically only); only in the answer to one")


class StrategyVersionDetail(StrategyVersion):
    """One stored version of an uploaded strategy, with its source."""

    name: str
    source: str
    description: str = ""
    params_schema: dict[str, Any] = Field(default_factory=dict)


class StrategyDiff(BaseModel):
    """A unified diff between two versions of an uploaded strategy (empty when their sources are the same)."""

    name: str
    from_version: int
    to_version: int
    diff: str
