"""The package keeps its shape: no file in src/ganforge over 400 lines, no function over 60.

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
