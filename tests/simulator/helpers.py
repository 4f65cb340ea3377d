"""Write small scenario files for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace('"', '\\"') + '"'
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return repr(float(v)) if isinstance(v, float) else str(v)


def toml_text(data: dict[str, Any]) -> str:
    """TOML for a scenario dict: scalars, tables, arrays of tables."""
    lines: list[str] = []
    for key, value in data.items():
        if not isinstance(value, dict | list) or (isinstance(value, list) and value
                                                  and not isinstance(value[0], dict)):
            lines.append(f"{key} = {_value(value)}")
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"[{key}]")
            lines += [f"{k} = {_value(v)}" for k, v in value.items()]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                lines.append(f"[[{key}]]")
                lines += [f"{k} = {_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def scenario_file(tmp_path: Path, name: str = "test", **data: Any) -> Path:
    """A scenario file with the given top-level keys and sections (no background by default)."""
    content = {"name": name, "description": "test scenario", "nuclide": "Tc-99m",
               "frame_period_s": 0.05, **data}
    content.setdefault("background", {})
    if not content["background"]:
        content["background"] = {"room_cps": 0.0}
    path = tmp_path / f"{name}.toml"
    path.write_text(toml_text(content))
    return path
