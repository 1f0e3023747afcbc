"""Static checks of an uploaded strategy file, before any of its code runs."""
from __future__ import annotations

import ast
import re
from pathlib import PurePath

from backend.errors import InvalidInput

MAX_SOURCE_BYTES = 512 * 1024
BASE_CLASS = "Strategy"
# A strategy name is also a module name for hive_core's loader: a letter, then letters, digits or '_'.
# (Stricter than the instance id pattern, which also allows '-' and a leading digit.)
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,62}$"
_NAME_RE = re.compile(NAME_PATTERN)


def invalid(message: str) -> InvalidInput:
    return InvalidInput("invalid_strategy", message)


def name_from_filename(filename: str) -> str:
    """The strategy's name is the file's stem; it must be a valid id (it is looked up as `<name>.py`)."""
    path = PurePath(filename.replace("\\", "/"))
    if path.suffix != ".py":
        raise invalid(f"{path.name or filename!r} is not a Python file: upload a .py file")
    if not _NAME_RE.match(path.stem):
        raise InvalidInput("invalid_name",
                           f"{path.stem!r} cannot be a strategy name: use 1-63 letters, digits or '_', "
                           "starting with a letter, and rename the file")
    return path.stem


def decode_source(data: bytes) -> str:
    if len(data) > MAX_SOURCE_BYTES:
        raise invalid(f"the file is {len(data)} bytes; at most {MAX_SOURCE_BYTES} are accepted")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise invalid(f"the file is not UTF-8 text (byte {error.start})") from None


def check_source(source: str, filename: str) -> None:
    """Refuse source that does not parse, or that defines no class deriving from Strategy."""
    if len(source.encode("utf-8")) > MAX_SOURCE_BYTES:
        raise invalid(f"the source is larger than {MAX_SOURCE_BYTES} bytes")
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as error:
        raise invalid(f"SyntaxError at line {error.lineno}: {error.msg}") from None
    except ValueError as error:  # e.g. null bytes
        raise invalid(f"cannot parse the source: {error}") from None
    if not _strategy_classes(tree):
        raise invalid(f"no class deriving from {BASE_CLASS} in {filename}: a strategy file defines "
                      f"`class MyStrategy({BASE_CLASS}): ...` with hive_core's {BASE_CLASS} base class")


def docstring_of(source: str) -> str:
    """The docstring of the file's first Strategy class (the description, when the module is not imported)."""
    tree = ast.parse(source)
    classes = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    for name in _strategy_classes(tree):
        return (ast.get_docstring(classes[name]) or "").strip()
    return ""


def _strategy_classes(tree: ast.Module) -> list[str]:
    """Classes deriving from Strategy, directly (under any imported alias) or through another class of the file."""
    bases_named = {BASE_CLASS}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name == BASE_CLASS and alias.asname:
                    bases_named.add(alias.asname)
    found: list[str] = []
    classes = [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    changed = True
    while changed:
        changed = False
        for node in classes:
            if node.name in found:
                continue
            for base in node.bases:
                base_name = (base.id if isinstance(base, ast.Name)
                             else base.attr if isinstance(base, ast.Attribute) else None)
                if base_name in bases_named or base_name in found:
                    found.append(node.name)
                    changed = True
                    break
    return found
