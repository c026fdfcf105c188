"""Imports point one way (docs/architecture.md): apps -> sectors -> surface helpers ->
governance -> core, no sector imports another, no module imports another layer's private
name, and no module-level imports close a cycle. Walks src/odlar with `ast`."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# the top-level apps: the CLI and every module of the server and the console, except the
# surface helpers sectors share with them; and the platform bench harnesses, which start
# and time servers (governance/bench.py measures the server's request limits too)
APPS = ("odlar.cli", "odlar.__main__", "odlar.server.", "odlar.web.", "odlar.governance.bench")
SURFACE = ("odlar.terminal", "odlar.server.auth", "odlar.server.parameters", "odlar.web.console",
           "odlar.testing")  # fmt: skip
RANK = {"core": 0, "governance": 1, "surface": 2, "sector": 3, "apps": 4}


def _sectors() -> set[str]:
    from odlar.core.sectors import sectors

    return {s.tasks[0].split(".")[1] for s in sectors() if s.tasks[0].startswith("odlar.")}


SECTORS = _sectors()


def layer(module: str) -> str:
    if module.startswith(SURFACE) or module in ("odlar.server", "odlar.web"):
        return "surface"
    if module.startswith(APPS):
        return "apps"
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in SECTORS:
        return "sector"
    if module.startswith("odlar.governance"):
        return "governance"
    return "core"  # odlar.core.*, the package itself


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted((SRC / "odlar").rglob("*.py")):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        yield name.removesuffix(".__init__"), path


def imports(module: str, path: Path) -> Iterator[tuple[str, list[str], int, bool]]:
    """(imported module, names, line, at module level) for every import of odlar."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    # run at import: the module's own statements and its `if` blocks, except
    # `if TYPE_CHECKING:` (read by type checkers only)
    top = {id(n) for n in tree.body}
    for block in tree.body:
        if isinstance(block, ast.If) and "TYPE_CHECKING" not in ast.unparse(block.test):
            top |= {id(n) for n in block.body + block.orelse}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("odlar"):
                    yield alias.name, [], node.lineno, id(node) in top
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            if base.startswith("odlar"):
                yield base, [a.name for a in node.names], node.lineno, id(node) in top


def test_imports_point_down() -> None:
    assert {"energy", "education", "mobility"} <= SECTORS
    wrong = []
    for module, path in modules():
        mine = layer(module)
        for target, names, line, _ in imports(module, path):
            theirs = layer(target)
            where = f"{module}:{line} imports {target}"
            if RANK[theirs] > RANK[mine]:
                wrong.append(f"{where} ({mine} -> {theirs})")
            elif mine == theirs == "sector" and target.split(".")[1] != module.split(".")[1]:
                wrong.append(f"{where} (a sector imports another sector)")
            if target.split(".")[:2] != module.split(".")[:2]:
                private = [n for n in names if n.startswith("_") and n != "__version__"]
                if private:
                    wrong.append(f"{where} private name(s) {', '.join(private)}")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles_at_module_level() -> None:
    known = {m for m, _ in modules()}
    graph: dict[str, set[str]] = {m: set() for m in known}
    for module, path in modules():
        for target, names, _, top in imports(module, path):
            if not top:
                continue  # imports inside functions run later, once both modules exist
            # `from package import module` depends on the module, not only the package
            subs = {f"{target}.{n}" for n in names} & known
            graph[module] |= (subs or {target}) & known
    cycles = []
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    # a package importing its own submodules (odlar.x -> odlar.x.y) is how packages work
    cycles = [c for c in cycles if not _package_self(c)]
    assert not cycles, "\n".join(cycles)


def _package_self(cycle: str) -> bool:
    nodes = cycle.split(" -> ")
    return any(b.startswith(a + ".") for a, b in zip(nodes, nodes[1:], strict=False))


def test_the_check_catches_a_wrong_import(tmp_path: Path) -> None:
    """The walk itself sees an import that points up (so a green run means something)."""
    bad = tmp_path / "odlar" / "core" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from odlar.governance import approval\n")
    found = list(imports("odlar.core.bad", bad))
    assert found == [("odlar.governance", ["approval"], 1, True)]
    assert RANK[layer(found[0][0])] > RANK[layer("odlar.core.bad")]
