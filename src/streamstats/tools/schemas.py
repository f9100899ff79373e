"""JSON Schema files generated from the models, so docs and other languages can't drift."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import orjson
from pydantic import TypeAdapter

from ..core.events import EVENT_MODELS, event_adapter, type_tag
from ..core.view import Panel

__all__ = ["check_schemas", "expected_schemas", "export_schemas"]

_ID_BASE: Final = "https://streamstats.dev/schemas/v1/"


def expected_schemas() -> dict[str, bytes]:
    """File name → schema text, as this version of the models defines them."""
    documents: dict[str, dict[str, Any]] = {}
    for model in EVENT_MODELS:
        documents[f"{type_tag(model)}.json"] = model.model_json_schema()
    documents["event.json"] = event_adapter.json_schema()
    documents["panel.json"] = TypeAdapter(Panel).json_schema()
    return {
        name: orjson.dumps(
            {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": _ID_BASE + name}
            | schema,
            option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS,
        )
        + b"\n"
        for name, schema in documents.items()
    }


def export_schemas(directory: Path) -> list[Path]:
    """Write every schema file into ``directory``; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in expected_schemas().items():
        path = directory / name
        path.write_bytes(text)
        written.append(path)
    return written


def check_schemas(directory: Path) -> list[str]:
    """Describe every schema file in ``directory`` that is missing or out of date."""
    problems = []
    for name, text in expected_schemas().items():
        path = directory / name
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.read_bytes() != text:
            problems.append(f"{path}: out of date")
    return problems
