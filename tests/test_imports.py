"""The package's import graph: no cycle, counting the imports inside functions (a cycle hidden
in a function is still a cycle: it only fails later, at the call), and not the ones under
`if TYPE_CHECKING:`, which never run. And no import inside a function but those start-up time
needs, each listed with its reason (`LAZY`)."""

from __future__ import annotations

import ast
from pathlib import Path

from smbos import nanoclaw

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
    ("smbos.schedulespec", "croniter"): CRON,
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


# ------------------------------------------------------------------ the NanoClaw folder's facade
#
# Everything that knows NanoClaw is in smbos/nanoclaw/ (docs/decisions/020-nanoclaw-in-one-folder.md).
# The rest of the package uses it through the modules `smbos.nanoclaw.PUBLIC` names, and only
# their public names: a second runtime beside it then offers the same surface, and a change inside
# the folder that keeps that surface changes nothing outside it.


def facade_breaches(
    package: Path = PACKAGE, folder: str = "smbos.nanoclaw", public: tuple[str, ...] = ()
) -> list[str]:
    """Where a module outside `folder` imports one of its modules not in `public`, or a name
    starting with `_` from one (`from f.m import _x`, or `m._x` of a module imported as `m`)."""
    public = public or nanoclaw.PUBLIC
    modules = {_module_name(p, package.parent): p for p in package.rglob("*.py")}
    found: list[str] = []
    for name, path in sorted(modules.items()):
        if name == folder or name.startswith(f"{folder}."):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        bound: set[str] = set()  # local names of the folder's modules
        where = f"{path.relative_to(package.parent)}"
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == folder:
                    for alias in node.names:
                        bound.add(alias.asname or alias.name)
                        if alias.name not in public:
                            found.append(f"{where}:{node.lineno} imports {folder}.{alias.name}")
                elif node.module.startswith(f"{folder}."):
                    module = node.module.removeprefix(f"{folder}.").split(".")[0]
                    if module not in public:
                        found.append(f"{where}:{node.lineno} imports {node.module}")
                    found += [
                        f"{where}:{node.lineno} imports {node.module}.{alias.name}"
                        for alias in node.names
                        if alias.name.startswith("_")
                    ]
            elif isinstance(node, ast.Import):
                found += [
                    f"{where}:{node.lineno} imports {alias.name}"
                    for alias in node.names
                    if alias.name.startswith(f"{folder}.")
                    and alias.name.removeprefix(f"{folder}.").split(".")[0] not in public
                ]
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in bound
                and node.attr.startswith("_")
            ):
                found.append(f"{where}:{node.lineno} uses {node.value.id}.{node.attr}")
    return found


def test_the_rest_of_smbos_uses_nanoclaw_through_its_public_modules():
    folder = PACKAGE / "nanoclaw"
    modules = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
    # The facade names the folder's modules as they are: the public ones, and no other.
    assert sorted(nanoclaw.PUBLIC) == sorted(m for m in modules if not m.startswith("_"))
    found = facade_breaches()
    assert not found, "outside smbos/nanoclaw/, use only the modules of PUBLIC:\n" + "\n".join(
        found
    )


def test_a_reach_into_the_folder_is_found(tmp_path):
    """A private module, a module the facade does not list and a private name are each found,
    whether imported or reached as an attribute; the folder's own modules may use them."""
    package = tmp_path / "pkg"
    (package / "rt").mkdir(parents=True)
    for name in ("__init__", "rt/__init__", "rt/client", "rt/_shapes", "rt/hidden"):
        (package / f"{name}.py").write_text("")
    (package / "rt" / "client.py").write_text("from pkg.rt import _shapes\n")
    (package / "ok.py").write_text("from pkg.rt import client\nfrom pkg.rt.client import Client\n")
    (package / "bad.py").write_text(
        "from pkg.rt import client, hidden\nfrom pkg.rt._shapes import parse\n"
        "from pkg.rt.client import _timeouts\nimport pkg.rt.hidden\nclient._pool\n"
    )
    found = facade_breaches(package, "pkg.rt", ("client",))
    assert found == [
        "pkg/bad.py:1 imports pkg.rt.hidden",
        "pkg/bad.py:2 imports pkg.rt._shapes",
        "pkg/bad.py:3 imports pkg.rt.client._timeouts",
        "pkg/bad.py:4 imports pkg.rt.hidden",
        "pkg/bad.py:5 uses client._pool",
    ]
