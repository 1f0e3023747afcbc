"""Hummingbot API's /scripts routes: scripts are the strategy library, script configs are stored params."""
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from backend.api.deps import CurrentUser, HummingbotDep

router = APIRouter(prefix="/scripts", tags=["hummingbot api: scripts"])


class Script(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: str
    name: str | None = None


@router.get("")
@router.get("/", include_in_schema=False)
def list_scripts(hb: HummingbotDep) -> list[str]:
    return hb.library.names()


# configs first: /configs must not be taken for a script named "configs"
@router.get("/configs")
@router.get("/configs/", include_in_schema=False)
def list_script_configs(hb: HummingbotDep) -> list[dict[str, Any]]:
    return hb.configs.list()


@router.get("/configs/{config_name}")
def get_script_config(hb: HummingbotDep, config_name: str) -> dict[str, Any]:
    return hb.configs.get(config_name)


@router.post("/configs/{config_name}", status_code=201)
def create_or_update_script_config(hb: HummingbotDep, config_name: str, config: dict[str, Any]) -> dict[str, str]:
    name = hb.configs.save(config_name, config)
    return {"message": f"Configuration '{name}' saved successfully"}


@router.delete("/configs/{config_name}")
def delete_script_config(hb: HummingbotDep, config_name: str) -> dict[str, str]:
    hb.configs.delete(config_name)
    return {"message": f"Configuration '{config_name.removesuffix('.yml')}' deleted successfully"}


@router.get("/{script_name}")
def get_script(hb: HummingbotDep, script_name: str) -> dict[str, str]:
    return {"name": script_name, "content": hb.library.get(script_name).source}


@router.post("/{script_name}", status_code=201)
def create_or_update_script(hb: HummingbotDep, user: CurrentUser, script_name: str, script: Script) -> dict[str, str]:
    """Upload the script, or store it as its next version; it is checked like any upload."""
    hb.library.put(script_name, script.content, author=user)
    return {"message": f"Script '{script_name}' saved successfully"}


@router.delete("/{script_name}")
def delete_script(hb: HummingbotDep, user: CurrentUser, script_name: str) -> dict[str, str]:
    hb.library.delete(script_name, author=user)
    return {"message": f"Script '{script_name}' deleted successfully"}


@router.get("/{script_name}/config/template")
def get_script_config_template(hb: HummingbotDep, script_name: str) -> dict[str, Any]:
    """Every param of the strategy with its default (None where it has none)."""
    schema = hb.library.get(script_name).params_schema
    return {name: spec.get("default") for name, spec in schema.get("properties", {}).items()}
