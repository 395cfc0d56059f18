#!/usr/bin/env python3
"""Render erd/source.dbml to docs/integrations/sources/wootric-erd.png with Graphviz `dot` (Debian package `graphviz`).

Parses the small subset of DBML the ERD uses: `Table name { column type [settings] ... Note: '...' }`
and `Ref: a.col > b.col` (`>` many-to-one, `<` one-to-many, `-` one-to-one, `<>` many-to-many).

    python scripts/render_erd.py [--dbml erd/source.dbml] [--out docs/integrations/sources/wootric-erd.png] [--dot-only]
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TABLE_RE = re.compile(r"^Table\s+\"?(\w+)\"?\s*\{\s*$")
COLUMN_RE = re.compile(r"^\"?(\w+)\"?\s+([\w\[\]()]+)\s*(?:\[(.*)\])?\s*$")
NOTE_RE = re.compile(r"^Note:\s*'(.*)'\s*$")
REF_RE = re.compile(
    r"^Ref(?:\s+\w+)?:\s*\"?(\w+)\"?\.\"?(\w+)\"?\s*(<>|>|<|-)\s*\"?(\w+)\"?\.\"?(\w+)\"?\s*$"
)


@dataclass
class Column:
    name: str
    type: str
    pk: bool = False
    note: str = ""


@dataclass
class Table:
    name: str
    columns: list[Column] = field(default_factory=list)
    note: str = ""


@dataclass
class Ref:
    table: str
    column: str
    kind: str
    ref_table: str
    ref_column: str


def _settings(raw: str | None) -> tuple[bool, str]:
    if not raw:
        return False, ""
    pk = any(part.strip() in ("pk", "primary key") for part in raw.split(","))
    note = re.search(r"note:\s*'([^']*)'", raw)
    return pk, note.group(1) if note else ""


def parse_dbml(text: str) -> tuple[dict[str, Table], list[Ref]]:
    tables: dict[str, Table] = {}
    refs: list[Ref] = []
    current: Table | None = None
    for lineno, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.split("//", 1)[0].strip()
        if not line:
            continue
        if current is None:
            if m := TABLE_RE.match(line):
                current = tables.setdefault(m.group(1), Table(m.group(1)))
            elif m := REF_RE.match(line):
                refs.append(Ref(*m.groups()))
            else:
                raise ValueError(f"line {lineno}: cannot parse {raw_line!r}")
            continue
        if line == "}":
            current = None
        elif m := NOTE_RE.match(line):
            current.note = m.group(1)
        elif m := COLUMN_RE.match(line):
            pk, note = _settings(m.group(3))
            current.columns.append(Column(m.group(1), m.group(2), pk, note))
        else:
            raise ValueError(f"line {lineno}: cannot parse {raw_line!r} in table {current.name}")
    if current is not None:
        raise ValueError(f"table {current.name} is not closed")
    for ref in refs:
        for table, column in ((ref.table, ref.column), (ref.ref_table, ref.ref_column)):
            if column not in {c.name for c in tables.get(table, Table(table)).columns}:
                raise ValueError(f"ref to unknown column {table}.{column}")
    return tables, refs


HEADER = "#1a6fa3"
PK_FILL = "#e8f3fa"
ARROWS = {  # (tail at the referencing column, head at the referenced one)
    ">": ("crow", "tee"),
    "<": ("tee", "crow"),
    "-": ("tee", "tee"),
    "<>": ("crow", "crow"),
}


def to_dot(tables: dict[str, Table], refs: list[Ref]) -> str:
    out = [
        "digraph erd {",
        '  graph [rankdir=LR, nodesep=0.5, ranksep=1.3, bgcolor="white", pad=0.3,'
        ' fontname="DejaVu Sans", label="source-wootric streams", labelloc=t, fontsize=20];',
        '  node [shape=plain, fontname="DejaVu Sans", fontsize=11];',
        '  edge [color="#555555", penwidth=1.3, arrowsize=0.9];',
    ]
    for table in tables.values():
        rows = [
            f'<tr><td colspan="2" bgcolor="{HEADER}" align="center">'
            f'<font color="white" point-size="13"><b>{html.escape(table.name)}</b></font></td></tr>'
        ]
        for col in table.columns:
            name = html.escape(col.name)
            if col.pk:
                name = f"<b>{name}</b>  <font color='{HEADER}'>PK</font>"
            bg = f' bgcolor="{PK_FILL}"' if col.pk else ""
            typ = html.escape(col.type.replace("timestamp_with_timezone", "timestamptz"))
            rows.append(
                f'<tr><td port="{col.name}_w" align="left"{bg}>{name}</td>'
                f'<td port="{col.name}_e" align="left"{bg}><font color="#666666">{typ}</font></td></tr>'
            )
        if table.note:
            rows.append(
                f'<tr><td colspan="2" align="left"><font point-size="9" color="#444444">'
                f"<i>{html.escape(table.note)}</i></font></td></tr>"
            )
        label = '<table border="1" cellborder="1" cellspacing="0" cellpadding="4" color="#8a8a8a">'
        out.append(f'  "{table.name}" [label=<{label}{"".join(rows)}</table>>];')
    for ref in refs:
        tail, head = ARROWS[ref.kind]
        out.append(
            f'  "{ref.table}":"{ref.column}_e":e -> "{ref.ref_table}":"{ref.ref_column}_w":w'
            f" [dir=both, arrowtail={tail}, arrowhead={head}];"
        )
    out.append("}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dbml", type=Path, default=ROOT / "erd" / "source.dbml")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "integrations" / "sources" / "wootric-erd.png"
    )
    parser.add_argument("--dpi", type=int, default=96)
    parser.add_argument("--dot-only", action="store_true", help="print the DOT source and stop")
    args = parser.parse_args(argv)

    tables, refs = parse_dbml(args.dbml.read_text())
    dot_source = to_dot(tables, refs)
    if args.dot_only:
        sys.stdout.write(dot_source)
        return 0
    dot = shutil.which("dot")
    if dot is None:
        print("graphviz `dot` is missing: apt-get install -y graphviz", file=sys.stderr)
        return 1
    fmt = args.out.suffix.lstrip(".") or "png"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [dot, f"-T{fmt}", f"-Gdpi={args.dpi}", "-o", str(args.out)],
        input=dot_source.encode(),
        check=True,
    )
    print(f"{args.out}: {len(tables)} tables, {len(refs)} refs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
