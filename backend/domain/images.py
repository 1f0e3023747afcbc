"""Images that can run an instance, and the build and pull jobs that make them."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from backend.domain.base import Strict

JobKind = Literal["build", "pull"]
JobState = Literal["running", "succeeded", "failed"]


class ImageOut(BaseModel):
    id: str
    host: str = Field(description="the Docker endpoint it is on")
    tags: list[str]
    version: str | None = Field(description="the Hive version it was built from (label org.hive.version)")
    size_bytes: int
    created_at: float


class ImageBuild(Strict):
    host: str = Field("local", description="the Docker endpoint to build on")


class ImagePull(Strict):
    image: str = Field(min_length=1, description="name[:tag], e.g. registry.example.com/team/bot:1.2")
    host: str = Field("local", description="the Docker endpoint to pull onto")


class ImageJob(BaseModel):
    id: str
    kind: JobKind
    image: str
    host: str
    state: JobState
    summary: str = Field("", description="where it is: 'step 7/18', '3 of 5 layers, 12.1 of 40.2 MB'")
    percent: float | None = Field(None, description="known for builds (by step) and pulls (by bytes)")
    progress: list[str] = Field(description="the last lines of the engine's output, oldest first")
    started_at: float
    finished_at: float | None = None
    error: str | None = None
