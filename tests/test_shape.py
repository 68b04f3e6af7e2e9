"""The package keeps its shape: no file in src/ganforge over 400 lines, no function over 60,
no import circle.

Counted as the project's shape hook counts: a file's lines are its newline characters; a
function (def or async def, methods and nested functions included) runs from its def line
to its last line, decorators not included.
"""
import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "ganforge"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60


def sources() -> list[tuple[Path, str]]:
    files = sorted(SRC.rglob("*.py"))
    assert files, f"no Python files under {SRC}"
    return [(path, path.read_text(encoding="utf-8")) for path in files]


def test_no_file_is_over_400_lines():
    long = [f"{path.relative_to(SRC.parent)}: {text.count(chr(10))} lines"
            for path, text in sources() if text.count("\n") > MAX_FILE_LINES]
    assert not long, f"files over {MAX_FILE_LINES} lines (split them by job):\n" + "\n".join(long)


def test_no_function_is_over_60_lines():
    long = []
    for path, text in sources():
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(SRC.parent)}:{node.lineno} {node.name}: {n} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (split them where the thought ends):\n" + "\n".join(long)


def imports_of(path: Path, text: str) -> tuple[str, set[str]]:
    """(the module's dotted name, the ganforge modules it imports, deferred imports included:
    a function-level import is a dependency all the same)."""
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    package = parts[:-1]
    name = ".".join(parts if parts[-1] != "__init__" else parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module:  # `from . import x` imports x, not the package it sits in
                found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return name, found


def test_no_import_circles():
    graph = dict(imports_of(path, text) for path, text in sources())
    graph = {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}
    state, circles = {}, []

    def visit(m, stack):  # depth first: a module met again while still on the stack closes a circle
        state[m] = "open"
        for d in sorted(graph[m]):
            if state.get(d) == "open":
                circles.append(" -> ".join(stack[stack.index(d):] + [d]))
            elif d not in state:
                visit(d, stack + [d])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not circles, "import circles (the imports should run one way):\n" + "\n".join(circles)
