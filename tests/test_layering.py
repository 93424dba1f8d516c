"""The layering the code is built on, read from the source's imports (module level and inside functions).

- ``core`` (what the bot knows and decides) imports neither Rasa, the Rasa SDK, Sanic nor any of
  the project's channel, admin, alerts or action-server code: every door can use it.
- ``actions`` holds only the Rasa SDK adapters, and nothing outside it imports it (the channels,
  the admin and the alerts use ``core``); ``bot.dialogue`` serves the action server's app in
  process for ``fraudbot check`` and is the one exception.
- No import cycle between the project's modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "actions", "bot", "nlu")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever the import statement is."""
    found: set[str] = set()
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}
    return {name: {imported for imported in imports_of(path) if imported in modules and imported != name}
            for name, path in modules.items()}


def all_imports(name: str) -> set[str]:
    return imports_of(ROOT / (name.replace(".", "/") + ".py")) if (ROOT / (name.replace(".", "/") + ".py")).exists() \
        else imports_of(ROOT / name.replace(".", "/") / "__init__.py")


def test_the_domain_core_imports_no_rasa_no_channel_and_no_adapter(graph: dict[str, set[str]]) -> None:
    core = [name for name in graph if name == "core" or name.startswith("core.")]
    assert {"core.verdict", "core.replies", "core.knowledge", "core.report_lines"} <= set(core)
    forbidden = ("rasa", "rasa_sdk", "sanic", "telegram", "wechatpy", "actions", "bot.channels", "bot.admin",
                 "bot.alerts", "bot.senders")
    for name in core:
        bad = sorted(imported for imported in all_imports(name)
                     if any(imported == prefix or imported.startswith(prefix + ".") for prefix in forbidden))
        assert not bad, f"{name} imports {bad}"


def test_nothing_but_the_dialogue_imports_the_rasa_sdk_adapters(graph: dict[str, set[str]]) -> None:
    importers = sorted(name for name, imported in graph.items()
                       if not name.startswith("actions") and any(i.startswith("actions") for i in imported))
    assert importers == ["bot.dialogue"]


def test_channels_admin_and_alerts_never_import_actions(graph: dict[str, set[str]]) -> None:
    for name, imported in graph.items():
        if name.startswith(("bot.channels", "bot.admin", "bot.alerts", "bot.senders")):
            assert not [i for i in imported if i == "actions" or i.startswith("actions.")], name


def test_no_import_cycle(graph: dict[str, set[str]]) -> None:
    # a package's __init__ importing its own modules is not a cycle worth naming; edges to a
    # package are edges to its __init__
    visiting: list[str] = []
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            cycles.append([*visiting[visiting.index(name):], name])
            return
        visiting.append(name)
        for imported in sorted(graph.get(name, ())):
            visit(imported)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    assert not cycles, "import cycles: " + "; ".join(" → ".join(cycle) for cycle in cycles)
