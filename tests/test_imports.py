"""The package's import graph: no cycle, counting the imports inside functions (a cycle hidden
in a function is still a cycle: it only fails later, at the call), and not the ones under
`if TYPE_CHECKING:`, which never run. And no import inside a function but those start-up time
needs, each listed with its reason (`LAZY`)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "smbos"


def _module_name(path: Path, top: Path) -> str:
    parts = path.relative_to(top).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def _targets(node: ast.Import | ast.ImportFrom, package: str, modules: set[str]) -> list[str]:
    """What an import statement names: the package's modules it imports (`from smbos import a,
    b` names `smbos.a` and `smbos.b`), or the top-level name of anything else."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join(anchor + ([base] if base else []))
        targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
    found: list[str] = []
    for target in targets:
        if target.split(".")[0] != package.split(".")[0]:
            found.append(target.split(".")[0])
            continue
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target:
            found.append(target)
    # `from smbos import a` names `smbos` (the package) as well as `smbos.a`: only the module.
    return [
        t for t in dict.fromkeys(found) if not any(other.startswith(f"{t}.") for other in found)
    ]


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """{module: the package's modules it imports, at any depth of its code}."""
    modules = {_module_name(p, package.parent): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _type_checking_nodes(tree)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles (function-level imports counted): " + "; ".join(
        " -> ".join(group) for group in found
    )


def test_a_cycle_through_a_function_is_found(tmp_path):
    """The check sees an import inside a function, and skips one under TYPE_CHECKING."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg import b\n")
    (package / "b.py").write_text("def f():\n    from pkg.a import x\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n"
    )
    graph = import_graph(package)
    assert cycles(graph) == [["pkg.a", "pkg.b"]]
    assert graph["pkg.c"] == set()


# ------------------------------------------------------------------ imports inside functions
#
# A module imports what it uses at its top, unless start-up time needs otherwise: the CLI loads
# every command module to start (and `--version` and `--help` load no command machinery), and
# `smbos status` of an unchanged fleet loads no agent model, Docker SDK or HTTP library (ADR 013;
# tests/test_startup.py and tests/test_status_path.py hold both). Every import inside a function
# is listed here, (module, what it imports), with the reason.

COMMAND = (
    "a command module, loaded by every start of the CLI: the command's machinery is "
    "imported when the command runs (`--version`, `--help`: tests/test_startup.py)"
)
STATUS = (
    "on the path of `smbos status` of an unchanged fleet, which loads no agent model, "
    "Docker SDK or HTTP library (tests/test_status_path.py); only other callers need it"
)
START = (
    "loaded by every start of the CLI (`smbos --version`): the library loads only when it is used"
)
DRAWING = "rich loads only for a table or text drawn: never for `--json` or `--version`"
CRON = (
    "croniter (and dateutil) only for a fleet with cron schedules: a fleet without one "
    "loads, validates and lists without them"
)

LAZY: dict[tuple[str, str], str] = {
    **{
        ("smbos.cli.agent", m): COMMAND
        for m in (
            "smbos.controller",
            "smbos.redact",
            "smbos.nanoclaw.chatstream",
            "smbos.operations",
            "smbos.nanoclaw.runtime",
            "smbos.nanoclaw.schedules",
        )
    },
    ("smbos.cli.base", "rich"): DRAWING,
    ("smbos.cli.base", "docker"): COMMAND,
    ("smbos.cli.base", "smbos.controller"): COMMAND,
    **{
        ("smbos.cli.fleet", m): COMMAND
        for m in (
            "smbos.nanoclaw.image",
            "smbos.integrations",
            "smbos.nanoclaw.source",
            "smbos.operations",
            "smbos.up",
            "smbos.controller",
        )
    },
    **{
        ("smbos.cli.folders", m): COMMAND
        for m in ("smbos.operations", "smbos.compose", "smbos.integrations")
    },
    **{
        ("smbos.cli.observe", m): COMMAND
        for m in ("smbos.fleetindex", "smbos.controller", "smbos.doctor")
    },
    **{("smbos.cli.settings", m): COMMAND for m in ("smbos.operations", "smbos.controller")},
    ("smbos.cli.ui", "smbos.web.server"): COMMAND,
    ("smbos.nanoclaw.contract", "httpx"): STATUS,
    ("smbos.controller", "docker"): STATUS,
    ("smbos.controller", "smbos.dockercompose"): STATUS,
    ("smbos.controller", "smbos.redact"): STATUS,
    ("smbos.engine", "docker"): STATUS,
    ("smbos.integrations", "smbos.nanoclaw.image"): STATUS,
    ("smbos.nanoclaw.probe", "smbos.nanoclaw._shapes"): STATUS,
    ("smbos.project", "smbos.loader"): START,
    ("smbos.project", "smbos.compose"): START,
    ("smbos.scaffold", "jinja2"): START,
    ("smbos.schema", "croniter"): CRON,
}


def function_imports(package: Path = PACKAGE) -> dict[tuple[str, str], list[str]]:
    """{(module, what it imports): [where]} for every import inside a function (not those under
    `if TYPE_CHECKING:`); what: a module of the package, or another package's top-level name."""
    modules = {_module_name(p, package.parent): p for p in package.rglob("*.py")}
    found: dict[tuple[str, str], list[str]] = {}
    for name, path in sorted(modules.items()):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _type_checking_nodes(tree)
        anchor = name if path.name == "__init__.py" else name.rpartition(".")[0]
        functions = [
            n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        ]
        inner = {
            id(n): f.name
            for f in functions
            for n in ast.walk(f)
            if isinstance(n, (ast.Import, ast.ImportFrom))
        }
        for node in ast.walk(tree):
            if id(node) not in inner or id(node) in skipped:
                continue
            assert isinstance(node, (ast.Import, ast.ImportFrom))
            for target in _targets(node, anchor, set(modules)):
                found.setdefault((name, target), []).append(
                    f"{path.relative_to(package.parent)}:{node.lineno} ({inner[id(node)]})"
                )
    return found


def test_imports_inside_functions_are_the_listed_ones():
    found = function_imports()
    unlisted = [
        f"{module} imports {what} inside a function: {', '.join(found[module, what])}"
        for module, what in sorted(found)
        if (module, what) not in LAZY
    ]
    assert not unlisted, (
        "move these imports to the top of the module, or list them in LAZY "
        "with the start-up reason:\n" + "\n".join(unlisted)
    )
    stale = sorted(pair for pair in LAZY if pair not in found)
    assert not stale, f"LAZY lists imports no function makes any more: {stale}"


def test_an_import_inside_a_function_is_found(tmp_path):
    """The check sees `import x` and `from pkg import a` inside functions, names a package
    module by its module and anything else by its top-level name, and skips TYPE_CHECKING."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("import json\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import yaml\n"
        "def f():\n    import docker.errors\n    from pkg import a\n"
        "    if TYPE_CHECKING:\n        import httpx\n"
        "class C:\n    async def g(self):\n        from .a import json\n"
    )
    found = function_imports(package)
    assert sorted(found) == [("pkg.b", "docker"), ("pkg.b", "pkg.a")]
    assert found["pkg.b", "pkg.a"] == ["pkg/b.py:6 (f)", "pkg/b.py:11 (g)"]
