"""Generate the tables of docs/protocol.md from the protocol's models (llm_contracts.protocol).

Each table sits between ``<!-- table: Name -->`` and ``<!-- end table -->`` in the doc,
where ``Name`` is a model or a vocabulary of ``llm_contracts.protocol`` (``vocabularies``
gives the table of every enum). The prose around the tables is written by hand.

    python docs/protocol_tables.py           # rewrite the tables in docs/protocol.md
    python docs/protocol_tables.py --check   # exit 1 and show a diff when the doc is stale
"""

from __future__ import annotations

import argparse
import difflib
import enum
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the repository's package, not an installed one
    sys.path.insert(0, str(ROOT))

from llm_contracts import protocol  # noqa: E402

DOC = ROOT / "docs" / "protocol.md"
VOCABULARIES: tuple[type[enum.Enum], ...] = (
    protocol.Outcome,
    protocol.Stage,
    protocol.Category,
    protocol.Severity,
    protocol.Enforcement,
)
_BLOCK = re.compile(r"(<!-- table: (\w+) -->\n)(.*?)(<!-- end table -->)", re.S)
_NAMED = {2**31 - 1: "2^31-1", 2**63 - 1: "2^63-1", 10**12: "10^12", 10**12 * 1.0: "10^12"}


def _number(value: float) -> str:
    if value in _NAMED:
        return _NAMED[value]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}"


def _range(prop: dict[str, Any]) -> str:
    low, high = prop.get("minimum"), prop.get("maximum")
    if low is not None and high is not None:
        return f", {_number(low)} to {_number(high)}"
    if low is not None:
        return f", ≥ {_number(low)}"
    if high is not None:
        return f", ≤ {_number(high)}"
    return ""


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    """Return the type of one JSON Schema property in words."""
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[1]
        if name in {m.__name__ for m in protocol.MODELS}:
            return f"`{name}`"
        return _type(defs[name], defs)
    if prop.get("type") == "object" and prop.get("title") in {m.__name__ for m in protocol.MODELS}:
        return f"`{prop['title']}`"  # a model inlined (the batch's events, validated one by one)
    if "anyOf" in prop:
        kinds = [k for k in prop["anyOf"] if k.get("type") != "null"]
        text = " or ".join(_type(k, defs) for k in kinds)
        return text + " or null" if len(kinds) < len(prop["anyOf"]) else text
    if "enum" in prop:
        return " ".join(f"`{v}`" if v != "" else '`""`' for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`" if prop["const"] != "" else '`""`'
    kind = prop.get("type")
    if kind == "string":
        if prop.get("format") == "date-time":
            return "ISO 8601 date-time with timezone"
        low, high = prop.get("minLength"), prop.get("maxLength")
        size = f", {low}-{high} chars" if low and high else f", ≤ {high} chars" if high else ""
        return "string" + size + (", no NUL" if prop.get("pattern") == "^[^\\x00]*$" else "")
    if kind == "integer":
        return "int" + _range(prop)
    if kind == "number":
        return "number" + _range(prop)
    if kind == "boolean":
        return "bool"
    if kind == "array":
        items = _type(prop.get("items", {}), defs) if prop.get("items") else "any"
        most = f", at most {_number(prop['maxItems'])}" if "maxItems" in prop else ""
        return f"list of {items}{most}"
    if kind == "object":
        return "object"
    return "any"


def _default(name: str, model: type[BaseModel]) -> str:
    field = model.model_fields[name]
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        return "`{}`" if isinstance(value, dict | BaseModel) else f"`{value!r}`"
    value = field.default
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


def model_table(model: type[BaseModel]) -> str:
    """Return the Markdown table of ``model``'s fields: name, type, default, notes."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    rows = ["| field | type | default | notes |", "| --- | --- | --- | --- |"]
    for name, prop in schema["properties"].items():
        kind = _type(prop, defs)
        notes = " ".join((model.model_fields[name].description or "").split())
        rows.append(f"| `{name}` | {kind} | {_default(name, model)} | {notes} |")
    return "\n".join(rows) + "\n"


def vocabularies_table() -> str:
    """Return the Markdown table of every enum of the protocol and its values."""
    rows = ["| vocabulary | values | meaning |", "| --- | --- | --- |"]
    for vocabulary in VOCABULARIES:
        values = " ".join(f"`{m.value}`" for m in vocabulary)
        meaning = " ".join((vocabulary.__doc__ or "").split())
        rows.append(f"| `{vocabulary.__name__}` | {values} | {meaning} |")
    return "\n".join(rows) + "\n"


def table(name: str) -> str:
    if name == "vocabularies":
        return vocabularies_table()
    model = getattr(protocol, name, None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise SystemExit(
            f"docs/protocol.md names a table {name!r} that llm_contracts.protocol does not define"
        )
    return model_table(model)


def render(text: str) -> str:
    """Return ``text`` with every generated table rewritten from the models."""
    return _BLOCK.sub(lambda m: m.group(1) + table(m.group(2)) + m.group(4), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when docs/protocol.md is stale")
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)
    current = args.doc.read_text(encoding="utf-8")
    wanted = render(current)
    if current == wanted:
        return 0
    if args.check:
        diff = difflib.unified_diff(
            current.splitlines(keepends=True), wanted.splitlines(keepends=True), str(args.doc), "generated"
        )
        sys.stdout.writelines(diff)
        print(f"\n{args.doc.name} is stale: run python docs/protocol_tables.py", file=sys.stderr)
        return 1
    args.doc.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
