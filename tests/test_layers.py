"""Imports run one way: methods -> gan, retrieval -> data -> core (and zoo, viz on top)."""
import ast
from pathlib import Path

import ganret_lib

ROOT = Path(ganret_lib.__file__).parent
# what each layer may import from ganret_lib
ALLOWED = {"core": {"core"}, "data": {"core", "data"}, "retrieval": {"core", "data", "retrieval"},
           "gan": {"core", "data", "gan"}, "methods": {"core", "data", "retrieval", "gan", "methods"}}


def imported_layers(path: Path) -> set[str]:
    layer = path.relative_to(ROOT).parts[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:  # from . import x / from .x import y: the same package
                found.add(layer)
            elif node.level == 2:  # from ..x import y
                found.add((node.module or "").split(".")[0])
            elif (node.module or "").startswith("ganret_lib."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("ganret_lib.")}
    return found


def test_every_layer_imports_only_the_layers_below_it():
    checked = 0
    for layer, allowed in ALLOWED.items():
        for path in (ROOT / layer).glob("*.py"):
            extra = imported_layers(path) - allowed
            assert not extra, f"{path.relative_to(ROOT)} imports {sorted(extra)}"
            checked += 1
    assert checked >= 20
