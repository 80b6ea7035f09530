"""The import graph of src/loopmall's top-level packages: no cycles, the layering kept, and
docs/ARCHITECTURE.md showing the graph as it is (``python -m loopmall.core.importgraph``).

The first three tests read the real source; the others build small packages in a temporary
folder to show that the checker sees every kind of import and names a cycle.
"""

from __future__ import annotations

from pathlib import Path

from loopmall.core import importgraph
from loopmall.core.importgraph import (
    build,
    describe_cycles,
    layering_breaches,
    layers,
    reduced_edges,
    render,
    replace_section,
    shortest_cycle,
    strongly_connected,
)


def test_no_two_packages_reach_each_other() -> None:
    cycles = describe_cycles(build())
    assert cycles == [], "import cycles (break them, see docs/ARCHITECTURE.md):\n" + "\n".join(
        cycles
    )


def test_the_bottom_imports_no_domain_and_nothing_imports_the_top() -> None:
    breaches = layering_breaches(build())
    assert breaches == [], "\n".join(breaches)


def test_the_architecture_document_shows_the_current_graph() -> None:
    document = importgraph.DOC.read_text(encoding="utf-8")
    assert replace_section(document, render(build())) == document, (
        "docs/ARCHITECTURE.md's import graph is stale: python -m loopmall.core.importgraph"
    )


def _package(root: Path, files: dict[str, str]) -> Path:
    """A package ``loopmall`` under ``root`` with these files (path → source)."""
    base = root / "loopmall"
    for name, source in {"__init__.py": "", **files}.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return base


def test_every_kind_of_import_is_an_edge(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "core/__init__.py": "",
            "core/db.py": "",
            "lazy/__init__.py": "def f():\n    from loopmall.core import db\n",
            "typed/__init__.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from loopmall.core.db import X\n"
            ),
            "relative/__init__.py": "",
            "relative/a/__init__.py": "",
            "relative/a/b.py": "from ...core import db\nfrom . import c\n",
            "relative/a/c.py": "",
            "named/__init__.py": "import importlib\nimportlib.import_module('loopmall.core.db')\n",
            "plain/__init__.py": "import loopmall.core.db\nfrom loopmall import lazy\n",
            "logger/__init__.py": "import logging\nlog = logging.getLogger('loopmall.nothing')\n",
            "version/__init__.py": "from loopmall import __version__\n",
            # Run as a program the module is the top; imported, it does not reach the app.
            "script/__init__.py": (
                "import loopmall.core.db\n"
                "if __name__ == '__main__':\n    from loopmall.app import create_app\n"
            ),
            "app.py": "from loopmall.plain import x\n",
        },
    )
    graph = build(root)
    assert graph.nodes == {
        "core", "lazy", "typed", "relative", "named", "plain", "logger", "version", "script",
        "app",
    }  # fmt: skip
    assert {node: graph.imports(node) for node in sorted(graph.nodes)} == {
        "app": {"plain"},
        "core": set(),
        "lazy": {"core"},
        "logger": set(),
        "named": {"core"},
        "plain": {"core", "lazy"},
        "relative": {"core"},
        "script": {"core"},
        "typed": {"core"},
        "version": set(),
    }
    assert graph.why("lazy", "core") == ["lazy/__init__.py:2"]
    assert graph.why("relative", "core") == ["relative/a/b.py:1"]
    assert describe_cycles(graph) == []
    assert layers(graph) == [
        ["core", "logger", "version"],
        ["lazy", "named", "relative", "script", "typed"],
        ["plain"],
        ["app"],
    ]
    # plain -> core is implied by plain -> lazy -> core: the picture leaves it out.
    assert ("plain", "core") not in reduced_edges(graph)
    assert ("plain", "lazy") in reduced_edges(graph)


def test_a_cycle_is_named_with_the_lines_that_make_it(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "a/__init__.py": "from loopmall.b import x\n",
            "b/__init__.py": "",
            "b/deep.py": "def later():\n    from loopmall.c import y\n",
            "c/__init__.py": "\n\nfrom loopmall.a import z\n",
            "d/__init__.py": "from loopmall.a import z\n",
        },
    )
    graph = build(root)
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert shortest_cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    assert describe_cycles(graph) == [
        "cycle among a, b, c: a -> b -> c -> a",
        "  a -> b: a/__init__.py:1",
        "  b -> c: b/deep.py:2",
        "  c -> a: c/__init__.py:3",
    ]
    assert "**Cycles** (to break):" in render(graph)


def test_the_floor_and_the_top_are_checked(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "core/__init__.py": "from loopmall.orders import x\n",
            "orders/__init__.py": "def f():\n    from loopmall.app import create_app\n",
            "app.py": "",
        },
    )
    assert layering_breaches(build(root)) == [
        "core -> orders (core may import only config): core/__init__.py:1",
        "orders -> app (app is a composition root; only app, cli, demo, models import it): "
        "orders/__init__.py:2",
    ]


def test_the_section_is_replaced_and_a_stale_one_is_reported(tmp_path: Path) -> None:
    graph = build(_package(tmp_path, {"core/__init__.py": "", "web/__init__.py": ""}))
    document = f"# Title\n\nbefore\n\n{importgraph.START}\nold\n{importgraph.END}\n\nafter\n"
    current = replace_section(document, render(graph))
    assert current.startswith("# Title\n\nbefore\n\n" + importgraph.START)
    assert current.endswith(importgraph.END + "\n\nafter\n")
    assert "No cycles." in current
    assert importgraph.check(graph, current) == []
    assert importgraph.check(graph, document) == [
        "the import graph in ARCHITECTURE.md is stale: python -m loopmall.core.importgraph"
    ]
    assert importgraph.check(graph, "# no section\n") == [
        f"ARCHITECTURE.md has no {importgraph.START} … {importgraph.END} section"
    ]
