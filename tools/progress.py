"""Where a learner stands: one line per exercise in their workspace, ✅ / ❌ + hint / ✏️, and a total.

    python tools/progress.py [my-work]        # what `make progress` runs

Each notebook in the workspace is executed headless in a fresh kernel (top to bottom, as "Run All" would,
errors allowed so one broken cell does not hide the rest) and the verdict line of every check cell is
collected. The notebooks on disk are not modified.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
ICONS = ("✅", "❌", "✏️")
CELL_TIMEOUT = 300  # seconds; the first `import torch` on a loaded machine takes a while


@dataclass
class Line:
    notebook: str
    verdict: str  # one line, starting with one of ICONS

    @property
    def icon(self) -> str:
        return next((i for i in ICONS if self.verdict.startswith(i)), "❌")


def is_check_cell(cell) -> bool:
    return cell.cell_type == "code" and "ak.check." in cell.source


def verdict_of(cell) -> str:
    """The check cell's verdict line, or a ❌ line saying why there is none."""
    texts, error = [], None
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            texts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            texts.append(out.get("data", {}).get("text/plain", ""))
        elif out.output_type == "error":
            error = f"{out.ename}: {out.evalue}".splitlines()[0][:160]
    for line in "".join(texts).splitlines():
        if line.startswith(ICONS):
            return line.strip()
    if error:
        return f"❌ the check cell failed ({error}); run the cells above it and read the first error"
    return "❌ the check cell printed no verdict (was it edited?)"


def run_notebook(path: Path, timeout: int = CELL_TIMEOUT) -> list[Line]:
    nb = nbformat.read(path, as_version=4)
    checks = [c for c in nb.cells if is_check_cell(c)]
    if not checks:
        return []
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except (CellTimeoutError, DeadKernelError) as exc:
        reason = type(exc).__name__
        return [Line(path.stem, verdict_of(c) if c.get("outputs") else f"❌ not run: the notebook stopped ({reason})")
                for c in checks]
    return [Line(path.stem, verdict_of(c)) for c in checks]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", nargs="?", default="my-work")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell")
    args = parser.parse_args(argv)
    workspace = Path(args.workspace)
    if not workspace.is_absolute():
        workspace = ROOT / workspace
    notebooks = sorted(p for p in workspace.glob("*.ipynb") if not p.name.startswith("."))
    if not notebooks:
        print(f"No notebooks in {workspace}/: run `make workspace` first.")
        return 2
    lines: list[Line] = []
    for path in tqdm(notebooks, desc="checking", unit="notebook", file=sys.stderr):
        lines += run_notebook(path, args.timeout)
    width = max(len(line.notebook) for line in lines) if lines else 0
    for line in lines:
        print(f"{line.notebook:<{width}}  {line.verdict}")
    counts = {icon: sum(line.icon == icon for line in lines) for icon in ICONS}
    print(f"Total: {counts['✅']} / {len(lines)} exercises pass ✅, {counts['❌']} ❌, {counts['✏️']} ✏️ to start.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
