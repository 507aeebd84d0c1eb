"""Build the course notebooks from their percent-format sources and execute them.

    python tools/nbbuild.py                 # every source under tools/nbsrc/
    python tools/nbbuild.py 03 05           # only the sources whose name starts so
    python tools/nbbuild.py solutions/03    # only solutions/03_*
    python tools/nbbuild.py --check         # exit 1 if a notebook's cells differ from its source

``tools/nbsrc/notebooks/03_basic_attention.py`` becomes
``notebooks/03_basic_attention.ipynb``, executed top to bottom in a fresh kernel
(cwd = its folder) and saved with outputs, so nbval can compare them.
A source is a Python file split into cells by ``# %%`` (code) and
``# %% [markdown]`` (markdown, each line starting with ``# ``). A code cell that
holds ``### BEGIN SOLUTION`` gets nbgrader's solution metadata; in a notebook with
solutions, a code cell that calls ``ak.check.`` (a check cell) gets nbgrader's grade
metadata (a locked autograder-test cell worth ``CHECK_POINTS``): under nbgrader a check
that is not ✅ fails its cell, so ``nbgrader autograde`` scores the exercises.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "tools" / "nbsrc"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
CELL_MARK = re.compile(r"^# %%(?P<md> \[markdown\])?\s*$")
CHECK_CALL = "ak.check."
CHECK_POINTS = 1


def parse(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    chunks: list[tuple[str, list[str]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = CELL_MARK.match(line)
        if m:
            chunks.append(("markdown" if m.group("md") else "code", []))
        elif chunks:
            chunks[-1][1].append(line)
    for kind, lines in chunks:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if not lines:
            continue
        if kind == "markdown":
            text = "\n".join(re.sub(r"^# ?", "", ln) for ln in lines)
            nb.cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            cell = nbformat.v4.new_code_cell("\n".join(lines))
            if "### BEGIN SOLUTION" in cell.source:
                n = sum(c.metadata.get("nbgrader", {}).get("solution", False) for c in nb.cells) + 1
                cell.metadata["nbgrader"] = {
                    "solution": True, "grade": False, "locked": False,
                    "grade_id": f"{path.stem}_solution_{n}", "schema_version": 3,
                }
            nb.cells.append(cell)
    if any(c.metadata.get("nbgrader", {}).get("solution") for c in nb.cells):
        checks = [c for c in nb.cells if c.cell_type == "code" and CHECK_CALL in c.source
                  and "nbgrader" not in c.metadata]
        for n, cell in enumerate(checks, start=1):
            cell.metadata["nbgrader"] = {
                "grade": True, "solution": False, "locked": True, "points": CHECK_POINTS,
                "grade_id": f"{path.stem}_check_{n}", "schema_version": 3,
            }
    for i, cell in enumerate(nb.cells):  # stable ids keep diffs small
        cell["id"] = f"{path.stem[:2]}-{i:03d}"
    return nb


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int = 600) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def target_of(src: Path) -> Path:
    return ROOT / src.parent.name / (src.stem + ".ipynb")


def same_cells(a: nbformat.NotebookNode, b: nbformat.NotebookNode) -> bool:
    def key(nb):
        return [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in nb.cells]
    return key(a) == key(b)


def sources(prefixes: list[str]) -> list[Path]:
    found = sorted(SRC.glob("*/*.py"))
    def chosen(p: Path) -> bool:  # "03" picks both folders' 03_*; "solutions/03" only that folder's
        return any(f"{p.parent.name}/{p.stem}".startswith(x) if "/" in x else p.stem.startswith(x)
                   for x in prefixes)
    return [p for p in found if not prefixes or chosen(p)]


def main(argv: list[str]) -> int:
    check = "--check" in argv
    prefixes = [a for a in argv if not a.startswith("--")]
    stale = []
    for src in sources(prefixes):
        target = target_of(src)
        nb = parse(src)
        if check:
            if not target.exists() or not same_cells(nb, nbformat.read(target, as_version=4)):
                stale.append(target.relative_to(ROOT))
            continue
        start = time.perf_counter()
        execute(nb, target.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        print(f"{target.relative_to(ROOT)}: executed in {time.perf_counter() - start:.1f} s")
    if stale:
        print("These notebooks differ from their sources in tools/nbsrc/; run `make notebooks`:")
        print("\n".join(f"  {p}" for p in stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
