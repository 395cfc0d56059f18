"""Lines of code of the connector by the measure its reviewers use: lines that hold code, not counting blank
lines, comments or docstrings; per module, per function, and in all.

    .venv/bin/python scripts/count_lines.py [folder]       (default: source_wootric)
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

SKIPPED = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENDMARKER,
}


def code_lines(text: str) -> set[int]:
    """The numbers of the lines that hold code."""
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type not in SKIPPED:
            lines.update(n for n in range(token.start[0], token.end[0] + 1) if n not in docstrings)
    return lines


def functions(text: str) -> list[tuple[str, int]]:
    """(qualified name, code lines) of every function and method."""
    lines, found = code_lines(text), []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                span = range(child.lineno, (child.end_lineno or child.lineno) + 1)
                found.append((f"{prefix}{child.name}", len(lines.intersection(span))))
            visit(
                child,
                f"{prefix}{child.name}." if isinstance(child, ast.ClassDef | ast.FunctionDef) else prefix,
            )

    visit(ast.parse(text), "")
    return found


def main(folder: str = "source_wootric") -> None:
    total = 0
    for path in sorted(Path(folder).rglob("*.py")):
        text = path.read_text()
        count = len(code_lines(text))
        total += count
        longest = max(functions(text), key=lambda item: item[1], default=("-", 0))
        print(f"{count:5d}  {path}  (longest function: {longest[0]}, {longest[1]})")
    print(f"{total:5d}  in all")


if __name__ == "__main__":
    main(*sys.argv[1:])
