"""The package's import graph against the layers docs/ARCHITECTURE.md documents: nothing imports a
higher layer, packages of one layer do not import each other, and no module imports itself back through
others (imports inside functions count: a deferred import is still a dependency)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "robo_reward"

# lowest first; the top-level name of a module (robo_reward.<name>...) decides its layer
LAYERS = [
    {"types", "config", "device", "fsutil", "shaping", "observation", "environment_loop"},
    {"ros"},
    {"envs"},
    {"data"},
    {"viz"},
    {"reward"},
    {"rl", "bc"},
    {"bench", "demo", "cli"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every robo_reward module `path` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("robo_reward") and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("robo_reward"))
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {m: {i for i in imports(p) if i in modules} for m, p in modules.items()}


def top(module: str) -> str:
    return module.split(".")[1] if "." in module else "__init__"


def test_every_module_has_a_layer():
    assert not sorted({top(m) for m in graph()} - set(LAYER) - {"__init__"})


def test_no_module_imports_a_higher_layer_or_a_sibling_package():
    bad = []
    for module, deps in graph().items():
        if module == "robo_reward":
            continue
        for dep in deps:
            a, b = top(module), top(dep)
            if a != b and (LAYER[b] > LAYER[a] or (LAYER[b] == LAYER[a] and LAYER[a] != 0 and LAYER[a] != len(LAYERS) - 1)):
                bad.append(f"{module} -> {dep}")
    assert not bad, "\n".join(sorted(bad))


def test_no_import_cycle():
    g = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(g[m]):
            if state.get(d) == 1:
                cycles.append(" -> ".join(path[path.index(d):] + [d]) if d in path else f"{m} -> {d}")
            elif d not in state:
                visit(d, path + [d])
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m, [m])
    assert not cycles, "\n".join(cycles)
