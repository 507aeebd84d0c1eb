"""Write exercises/*.ipynb from solutions/*.ipynb: the single source of every exercise.

    python tools/make_exercises.py            # regenerate (and execute) every exercise notebook
    python tools/make_exercises.py 03 05      # only solutions whose name starts so
    python tools/make_exercises.py --check    # exit 1 if exercises/ is out of sync with solutions/

Each region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's
markers) becomes a stub, ``# YOUR CODE HERE`` / ``raise NotImplementedError()``,
as nbgrader's ``generate_assignment`` writes it. The solution outputs are dropped
and the notebook is executed from its stubs, so every check cell shows ``✏️`` and
nothing of the solutions leaks into exercises/.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbbuild import execute, same_cells  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REGION = re.compile(
    r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[^\n]*\n.*?^[ \t]*### END SOLUTION[^\n]*(\n|$)",
    re.MULTILINE | re.DOTALL,
)


def stub_source(source: str, cell_type: str) -> str:
    def stub(m: re.Match) -> str:
        indent = m.group("indent")
        if cell_type == "markdown":
            return f"{indent}YOUR ANSWER HERE\n"
        return f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError()\n"

    if "### BEGIN SOLUTION" in source and "### END SOLUTION" not in source:
        raise ValueError("a BEGIN SOLUTION marker has no END SOLUTION")
    return REGION.sub(stub, source).rstrip("\n")


def exercise_of(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(solution)
    for cell in nb.cells:
        cell.source = stub_source(cell.source, cell.cell_type)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    return nb


def main(argv: list[str]) -> int:
    check = "--check" in argv
    prefixes = [a for a in argv if not a.startswith("--")]
    stale = []
    solutions = sorted((ROOT / "solutions").glob("*.ipynb"))
    chosen = [p for p in solutions if not prefixes or any(p.stem.startswith(x) for x in prefixes)]
    wanted = {p.name for p in solutions}
    for extra in sorted((ROOT / "exercises").glob("*.ipynb")):
        if extra.name not in wanted:
            stale.append(f"exercises/{extra.name} has no solutions/ counterpart")
    for path in chosen:
        exercise = exercise_of(nbformat.read(path, as_version=4))
        target = ROOT / "exercises" / path.name
        if check:
            if not target.exists() or not same_cells(exercise, nbformat.read(target, as_version=4)):
                stale.append(f"exercises/{path.name} differs from what solutions/{path.name} generates")
            continue
        execute(exercise, target.parent)
        target.parent.mkdir(exist_ok=True)
        nbformat.write(exercise, target)
        print(f"wrote exercises/{path.name}")
    if stale:
        print("exercises/ is out of sync with solutions/; run `make exercises`:")
        print("\n".join(f"  {s}" for s in stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
