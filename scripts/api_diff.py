"""Summarise the public Python API of a generated package, and the change between two versions.

Read with ``ast`` (the package is never imported), so a broken tree can still be compared.
Entries are ``kind name`` -> signature: models, their fields, enum members, and the public
functions of each API module.
"""

from __future__ import annotations

import ast
from pathlib import Path


def _sig(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    args = ast.unparse(fn.args)
    ret = f" -> {ast.unparse(fn.returns)}" if fn.returns else ""
    prefix = "async " if isinstance(fn, ast.AsyncFunctionDef) else ""
    return f"{prefix}({args}){ret}"


def _module_api(module: str, tree: ast.Module) -> dict[str, str]:
    api: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith(
            "_"
        ):
            api[f"function {module}.{node.name}"] = _sig(node)
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            bases = ", ".join(ast.unparse(b) for b in node.bases)
            api[f"model {node.name}"] = f"class({bases})"
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    name = item.target.id
                    if not name.startswith("_"):
                        api[f"field {node.name}.{name}"] = ast.unparse(item.annotation)
                elif isinstance(item, ast.Assign) and len(item.targets) == 1:
                    target = item.targets[0]
                    if isinstance(target, ast.Name) and target.id.isupper():
                        api[f"member {node.name}.{target.id}"] = ast.unparse(item.value)
    return api


def public_api(package_dir: Path) -> dict[str, str]:
    """Map each public name of the generated package under ``package_dir`` to its signature."""
    api: dict[str, str] = {}
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir).with_suffix("")
        if rel.name == "__init__":
            continue
        module = ".".join(rel.parts)
        api.update(_module_api(module, ast.parse(path.read_text(encoding="utf-8"))))
    return api


def describe_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Lines naming what was added, removed or changed between two ``public_api`` results.

    Removed and changed entries come first: they are the ones that break callers.
    """
    lines = [f"removed {key}: {before[key]}" for key in sorted(before.keys() - after.keys())]
    lines += [
        f"changed {key}: {before[key]} -> {after[key]}"
        for key in sorted(before.keys() & after.keys())
        if before[key] != after[key]
    ]
    lines += [f"added {key}: {after[key]}" for key in sorted(after.keys() - before.keys())]
    return lines
