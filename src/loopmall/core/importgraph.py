"""The import graph of Loopmall's top-level packages, read from the source, and its section of
``docs/ARCHITECTURE.md``.

    python -m loopmall.core.importgraph            # write the section into docs/ARCHITECTURE.md
    python -m loopmall.core.importgraph --check    # exit 1 on a cycle or a stale section
    python -m loopmall.core.importgraph --print    # the section on stdout, files untouched
    python -m loopmall.core.importgraph --why A B  # the lines of A that import B

A node is a folder under ``src/loopmall`` (``core``, ``orders`` …) or a module beside them
(``app``, ``cli``, ``config``, ``models``). ``A → B`` when any file of A imports anything of B —
wherever the import stands: at the top, inside a function (a lazy import is still a dependency,
it only moves the failure to run time) or under ``TYPE_CHECKING``; so does a module named in
full in a string (loaded by name). The source is parsed with ``ast``: comments and prose do not
count, relative imports do. The one block left out is a module's ``if __name__ ==
"__main__":``: it runs only when the module is the program itself, which is then the top
(``python -m loopmall.identity.permissions_doc`` builds the whole app there).

``tests/test_import_graph.py`` fails while the graph has a cycle or the section is stale.
"""

from __future__ import annotations

import ast
import itertools
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "loopmall"
SOURCE = Path(__file__).resolve().parents[1]
DOC = Path(__file__).resolve().parents[3] / "docs" / "ARCHITECTURE.md"
START = "<!-- import-graph:start -->"
END = "<!-- import-graph:end -->"
COMMAND = "python -m loopmall.core.importgraph"
WIDTH = 95  # the document's prose is wrapped at about this width

# The layering, beyond "no cycles". The floor: what the bottom packages may import — every
# domain may use them, so they use no domain (the stand-ins speak the outside's protocols for
# tests and the demo, and only share the adapters' signing and wire types).
FLOOR: dict[str, frozenset[str]] = {
    "config": frozenset(),
    "core": frozenset({"config"}),
    "web": frozenset({"config", "core"}),
    "integrations": frozenset({"config", "core"}),
    "standins": frozenset({"config", "core", "integrations"}),
}
# The top: the composition roots, which put every domain together. Only they import each other.
TOP = frozenset({"app", "cli", "demo", "models"})


@dataclass
class Graph:
    """Nodes and, for each edge, the ``file:line`` of every import that makes it."""

    nodes: set[str] = field(default_factory=set)
    edges: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def imports(self, node: str) -> set[str]:
        return set(self.edges.get(node, {}))

    def why(self, source: str, target: str) -> list[str]:
        return list(self.edges.get(source, {}).get(target, []))


def _module_path(file: Path, root: Path) -> tuple[list[str], bool]:
    """The dotted parts of ``file``'s module and whether it is a package's ``__init__``."""
    parts = [PACKAGE, *file.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        return parts[:-1], True
    return parts, False


def _imported_modules(
    tree: ast.AST, module: list[str], is_package: bool, root: Path
) -> Iterable[tuple[str, int]]:
    """Every module name the tree imports, absolute, with its line."""
    for node in _walk_outside_main(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # ``from . import x`` in a module is its package; each further dot goes up one.
                base = module if is_package else module[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            if name == PACKAGE:
                # ``from loopmall import orders`` imports the package ``orders``.
                for alias in node.names:
                    yield f"{PACKAGE}.{alias.name}", node.lineno
            else:
                yield name, node.lineno
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _names_a_module(node.value, root)
        ):
            # A module named in full in a string is loaded by name somewhere
            # (``importlib.import_module``, the app's list of handler modules): still a dependency.
            yield node.value, node.lineno


def _walk_outside_main(tree: ast.AST) -> Iterable[ast.AST]:
    """Every node of the tree but those of a top-level ``if __name__ == "__main__":``."""
    body = tree.body if isinstance(tree, ast.Module) else [tree]
    for statement in body:
        if not _is_main_block(statement):
            yield from ast.walk(statement)


def _is_main_block(statement: ast.AST) -> bool:
    test = statement.test if isinstance(statement, ast.If) else None
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def _names_a_module(text: str, root: Path) -> bool:
    """Whether ``text`` is the dotted name of one of our modules (not a logger's or a key's
    name that happens to start with the package's)."""
    parts = text.split(".")
    if parts[0] != PACKAGE or len(parts) < 2 or not all(p.isidentifier() for p in parts):
        return False
    path = root.joinpath(*parts[1:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _node_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != PACKAGE or len(parts) < 2:
        return None
    return parts[1]


def _nodes(root: Path) -> set[str]:
    """The folders with Python in them and the modules beside them, ``__init__`` aside."""
    found = {p.name for p in root.iterdir() if p.is_dir() and any(p.rglob("*.py"))}
    found |= {p.stem for p in root.glob("*.py") if p.name != "__init__.py"}
    return found


def build(root: Path = SOURCE) -> Graph:
    """The graph of the package at ``root`` (``src/loopmall``)."""
    graph = Graph(nodes=_nodes(root))
    for file in sorted(root.rglob("*.py")):
        relative = file.relative_to(root)
        if relative.parts == ("__init__.py",):
            continue
        source = relative.parts[0].removesuffix(".py")
        module, is_package = _module_path(file, root)
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        for name, line in _imported_modules(tree, module, is_package, root):
            target = _node_of(name)
            # ``from loopmall import __version__`` names no package of ours.
            if target is None or target == source or target not in graph.nodes:
                continue
            where = f"{relative.as_posix()}:{line}"
            graph.edges.setdefault(source, {}).setdefault(target, []).append(where)
    return graph


def strongly_connected(graph: Graph) -> list[list[str]]:
    """The groups of nodes that reach each other (Tarjan), those of two or more, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.imports(node)):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph.nodes):
        if node not in index:
            visit(node)
    return sorted(groups)


def shortest_cycle(graph: Graph, group: list[str]) -> list[str]:
    """One shortest cycle inside a strongly connected group, as ``[a, b, …, a]``."""
    members = set(group)
    best: list[str] = []
    for start in sorted(group):
        # Breadth first from start back to start, staying inside the group.
        parents: dict[str, str] = {}
        frontier = [start]
        found = False
        while frontier and not found:
            following = []
            for node in frontier:
                for target in sorted(graph.imports(node) & members):
                    if target == start:
                        path = [node]
                        while path[-1] != start:
                            path.append(parents[path[-1]])
                        cycle = [start, *reversed(path[:-1]), start]
                        if not best or len(cycle) < len(best):
                            best = cycle
                        found = True
                        break
                    if target not in parents:
                        parents[target] = node
                        following.append(target)
                if found:
                    break
            frontier = following
    return best


def describe_cycles(graph: Graph) -> list[str]:
    """For every cycle group: its members, and one shortest cycle with the imports behind it."""
    lines = []
    for group in strongly_connected(graph):
        cycle = shortest_cycle(graph, group)
        lines.append(f"cycle among {', '.join(group)}: {' -> '.join(cycle)}")
        for source, target in itertools.pairwise(cycle):
            lines.append(f"  {source} -> {target}: {', '.join(graph.why(source, target))}")
    return lines


def layering_breaches(graph: Graph) -> list[str]:
    """Imports that break the floor or reach up to the top, with their lines."""
    breaches = []
    for source in sorted(graph.nodes):
        for target in sorted(graph.imports(source)):
            below = FLOOR.get(source)
            if below is not None and target not in below:
                why = f"{source} may import only {', '.join(sorted(below)) or 'nothing of ours'}"
            elif target in TOP and source not in TOP:
                why = f"{target} is a composition root; only {', '.join(sorted(TOP))} import it"
            else:
                continue
            breaches.append(f"{source} -> {target} ({why}): {', '.join(graph.why(source, target))}")
    return breaches


def layers(graph: Graph) -> list[list[str]]:
    """Nodes by layer: layer 0 imports nothing of ours, layer n imports something of layer n-1.

    Only for an acyclic graph; nodes of a cycle are left out.
    """
    depth: dict[str, int] = {}
    in_cycle = {node for group in strongly_connected(graph) for node in group}

    def level(node: str, seen: frozenset[str]) -> int:
        if node in depth:
            return depth[node]
        below = [t for t in graph.imports(node) if t not in in_cycle and t not in seen]
        depth[node] = 1 + max((level(t, seen | {node}) for t in below), default=-1)
        return depth[node]

    for node in sorted(graph.nodes - in_cycle):
        level(node, frozenset())
    result: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node, n in depth.items():
        result[n].append(node)
    return [sorted(names) for names in result]


def reduced_edges(graph: Graph) -> list[tuple[str, str]]:
    """The edges no longer path implies (the transitive reduction of an acyclic graph):
    the picture draws these, the table lists every edge."""
    reach: dict[str, set[str]] = {}

    def reachable(node: str) -> set[str]:
        if node not in reach:
            reach[node] = set()
            for target in graph.imports(node):
                reach[node] |= {target} | reachable(target)
        return reach[node]

    kept = []
    for source in sorted(graph.nodes):
        targets = graph.imports(source)
        for target in sorted(targets):
            if not any(target in reachable(other) for other in targets - {target}):
                kept.append((source, target))
    return kept


def _mermaid_id(node: str) -> str:
    # Mermaid reads some words (``end``, ``graph``) as keywords; a prefix keeps every name a node.
    return f"p_{node}"


def render(graph: Graph) -> str:
    """The section of docs/ARCHITECTURE.md, between its markers."""
    groups = strongly_connected(graph)
    intro = (
        "Who imports whom among the top-level packages of `src/loopmall` (and the modules "
        "beside them), read from the source with `ast`: an import inside a function or under "
        "`TYPE_CHECKING` counts as much as one at the top, and so does a module named in full "
        "in a string (loaded by name). An arrow points from the importer to what it imports; "
        "the picture leaves out an arrow that a longer path already implies, the table lists "
        f"every one. `{COMMAND} --check` (run by `tests/test_import_graph.py`) fails on a "
        "cycle, on a breach of the layering below, or when this section is stale; "
        f"`{COMMAND} --why A B` names the lines of A that import B."
    )
    rules = [
        f"`{node}` imports "
        + (f"only {', '.join(f'`{t}`' for t in sorted(below))}" if below else "nothing of ours")
        for node, below in FLOOR.items()
    ]
    rules += [
        "the domains sit between; a function lives in the package that owns its data, and a "
        "lower package that must reach an upper one defines a small protocol or registry the "
        "upper one fills when the app starts",
        f"{', '.join(f'`{n}`' for n in sorted(TOP))} put everything together; only they "
        "import each other",
    ]
    lines = [
        START,
        f"<!-- Generated by `{COMMAND}`; do not edit by hand. -->",
        "",
        textwrap.fill(intro, WIDTH),
        "",
        "The layering (`FLOOR` and `TOP` in `core/importgraph.py`):",
        "",
    ]
    lines += [
        textwrap.fill(rule, WIDTH, initial_indent="- ", subsequent_indent="  ") for rule in rules
    ]
    lines += [""]
    if groups:
        lines += ["**Cycles** (to break):", ""]
        lines += [
            textwrap.fill(", ".join(group), WIDTH, initial_indent="- ", subsequent_indent="  ")
            for group in groups
        ]
        lines += [""]
    else:
        lines += ["No cycles.", ""]
    # Top down: the importer above what it imports, so core ends at the bottom.
    lines += ["```mermaid", "graph TD"]
    for node in sorted(graph.nodes):
        lines.append(f"  {_mermaid_id(node)}[{node}]")
    for source, target in reduced_edges(graph) if not groups else _all_edges(graph):
        lines.append(f"  {_mermaid_id(source)} --> {_mermaid_id(target)}")
    lines += ["```", ""]
    lines += ["| layer | package | imports |", "|---|---|---|"]
    ordered = layers(graph)
    placed = {node for names in ordered for node in names}
    for n, names in enumerate(ordered):
        for node in names:
            imported = ", ".join(f"`{t}`" for t in sorted(graph.imports(node))) or "—"
            lines.append(f"| {n} | `{node}` | {imported} |")
    for node in sorted(graph.nodes - placed):
        imported = ", ".join(f"`{t}`" for t in sorted(graph.imports(node))) or "—"
        lines.append(f"| cycle | `{node}` | {imported} |")
    lines.append(END)
    return "\n".join(lines) + "\n"


def _all_edges(graph: Graph) -> list[tuple[str, str]]:
    return [(s, t) for s in sorted(graph.edges) for t in sorted(graph.edges[s])]


def replace_section(document: str, section: str) -> str:
    """``document`` with the text between the markers (markers included) replaced."""
    start = document.find(START)
    end = document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{DOC.name} has no {START} … {END} section")
    return document[:start] + section + document[end + len(END) :].removeprefix("\n")


def check(graph: Graph, document: str) -> list[str]:
    """What is wrong: the cycles, and a stale section. Empty when all is well."""
    problems = describe_cycles(graph) + layering_breaches(graph)
    try:
        current = replace_section(document, render(graph))
    except ValueError as missing:
        problems.append(str(missing))
    else:
        if current != document:
            problems.append(f"the import graph in {DOC.name} is stale: {COMMAND}")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    graph = build()
    if args[:1] == ["--why"] and len(args) == 3:
        print("\n".join(graph.why(args[1], args[2])) or f"{args[1]} does not import {args[2]}")
        return 0
    if "--print" in args:
        print(render(graph), end="")
        print("\n".join(describe_cycles(graph) + layering_breaches(graph)))
        return 0
    document = DOC.read_text(encoding="utf-8")
    if "--check" in args:
        problems = check(graph, document)
        print("\n".join(problems))
        return 1 if problems else 0
    DOC.write_text(replace_section(document, render(graph)), encoding="utf-8")
    print(f"wrote the import graph into {DOC}")
    for line in describe_cycles(graph) + layering_breaches(graph):
        print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
