"""What marks a container as this backend's: a name prefix and labels. The backend lists, adopts and touches
only containers that carry MANAGED and its own BACKEND id; anything else on the engine is not its business."""
from __future__ import annotations

import secrets
from pathlib import Path

NAME_PREFIX = "hive-"
MANAGED = "org.hive.managed"      # "true" on every container Hive creates
BACKEND = "org.hive.backend"      # the id of the backend that created it (backend_id)
INSTANCE = "org.hive.instance"    # the instance's name (instance containers)
ROLE = "org.hive.role"            # images and containers: "instance", "broker", "backend", "dashboard"
VERSION = "org.hive.version"      # images: the Hive version they were built from; instance containers: their image's
IMAGE = "org.hive.image"          # instance containers: the image they were created from

BACKEND_ID_FILE = "backend-id"


def backend_id(data_dir: Path) -> str:
    """This backend's id: made once per data folder and kept there, so a restarted backend knows its own."""
    path = data_dir / BACKEND_ID_FILE
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    made = secrets.token_hex(6)
    path.write_text(made + "\n")
    return made


def ours(backend: str) -> dict[str, str]:
    """The label filter of this backend's containers (for `containers.list(filters={"label": [...]})`)."""
    return {MANAGED: "true", BACKEND: backend}


def label_filter(labels: dict[str, str]) -> list[str]:
    return [f"{key}={value}" for key, value in labels.items()]
