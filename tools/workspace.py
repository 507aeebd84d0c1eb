"""Give a learner a workspace of their own: copies of the exercise notebooks that no course command touches.

    python tools/workspace.py                      # fill my-work/ (what `make workspace` runs)
    python tools/workspace.py --workspace DIR      # another folder

Rules, in the order they are applied:

* ``exercises/NN_name.ipynb`` is copied to ``my-work/NN_name.ipynb`` **only when that file does not exist**.
  An existing notebook is never written, renamed or deleted, whatever changed upstream.
* The copy is recorded in ``my-work/.course-manifest.json`` with a fingerprint of the exercise's cells as
  copied. When the course later ships a different exercise (a ``git pull``), the next run says which of
  your notebooks were copied from an older version, and leaves them alone; the new version stays readable
  in ``exercises/``.
* ``my-work/`` is git-ignored, so ``git pull`` never conflicts with it, and ``make exercises`` / ``make test``
  only ever write ``exercises/``, ``notebooks/`` and ``solutions/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ".course-manifest.json"


def fingerprint(path: Path) -> str:
    """A hash of a notebook's cell types and sources: outputs and metadata do not count as a change."""
    nb = nbformat.read(path, as_version=4)
    digest = hashlib.sha256()
    for cell in nb.cells:
        digest.update(cell.cell_type.encode() + b"\0" + cell.source.encode("utf-8") + b"\0")
    return digest.hexdigest()[:16]


def read_manifest(workspace: Path) -> dict[str, str]:
    path = workspace / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def sync(exercises: Path, workspace: Path) -> dict[str, list[str]]:
    """Copy the missing exercise notebooks into ``workspace``; report what is new, changed or kept.

    Returns a dict with the notebook names under ``"copied"``, ``"changed_upstream"`` (your copy came from
    an older exercise; kept as it is), ``"kept"`` and ``"unknown"`` (in the workspace with no record of
    where it came from: kept, never compared).
    """
    if not exercises.is_dir():
        raise FileNotFoundError(f"no exercises folder at {exercises}")
    if workspace.exists() and not workspace.is_dir():
        raise NotADirectoryError(f"{workspace} exists and is not a folder")
    workspace.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(workspace)
    report: dict[str, list[str]] = {"copied": [], "changed_upstream": [], "kept": [], "unknown": []}
    for source in sorted(exercises.glob("*.ipynb")):
        target = workspace / source.name
        upstream = fingerprint(source)
        if not target.exists():
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(source, tmp)
            tmp.replace(target)  # never leaves a half-written notebook behind
            manifest[source.name] = upstream
            report["copied"].append(source.name)
        elif source.name not in manifest:
            report["unknown"].append(source.name)
        elif manifest[source.name] != upstream:
            report["changed_upstream"].append(source.name)
        else:
            report["kept"].append(source.name)
    tmp = workspace / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(workspace / MANIFEST)
    return report


def describe(report: dict[str, list[str]], workspace: Path, exercises: Path) -> str:
    lines = []
    if report["copied"]:
        lines.append(f"New in {workspace.name}/ (copied from {exercises.name}/): " + ", ".join(report["copied"]))
    if report["changed_upstream"]:
        lines.append("Changed in the course since you copied them (your answers are kept as they are; "
                     f"read the new version in {exercises.name}/ and carry over what you want):")
        lines += [f"  {name}" for name in report["changed_upstream"]]
    if report["unknown"]:
        lines.append(f"Kept, not compared (no record of where they came from): {', '.join(report['unknown'])}")
    lines.append(f"Your answers live in {workspace}/: {len(report['kept']) + len(report['changed_upstream'])} "
                 f"notebook(s) kept untouched, {len(report['copied'])} new.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default="my-work", help="the learner's folder (default: my-work)")
    parser.add_argument("--exercises", default=str(ROOT / "exercises"), help="where the exercise notebooks are")
    args = parser.parse_args(argv)
    workspace = Path(args.workspace)
    if not workspace.is_absolute():
        workspace = ROOT / workspace
    exercises = Path(args.exercises)
    try:
        report = sync(exercises, workspace)
    except (FileNotFoundError, NotADirectoryError) as exc:
        print(f"workspace: {exc}", file=sys.stderr)
        return 2
    print(describe(report, workspace, exercises))
    return 0


if __name__ == "__main__":
    sys.exit(main())
