"""Grading with the real nbgrader: generate, release, fetch, submit, collect, autograde on a scratch course.

Three students hand in lesson 03's exercises: one untouched (stubs), one solved, one with typical
mistakes. Autograde must give 0, full and partial marks: every check cell is a graded, locked
test cell (tools/nbbuild.py emits its metadata) and a check that is not ✅ fails its cell under
``NBGRADER_EXECUTION`` with one line. Bounded: one small lesson, a 120 s per-cell limit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbgrader", reason="nbgrader is a test dependency (requirements.txt); install it to test grading")

ROOT = Path(__file__).resolve().parents[1]
LESSON = "03_basic_attention"
ASSIGNMENT = "lesson03"
COURSE = "attn"
# nbgrader runs the `alembic` command of its environment: put the venv's bin/ on PATH, as activating it does
ENV = {**os.environ, "PYTHONPATH": str(ROOT),
       "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
CELL_TIMEOUT = 120  # seconds per cell: importing torch under load exceeds nbgrader's default of 30 s

# what the student with typical mistakes writes (exercise 2 is right, exercises 1 and 3 are not)
MISTAKES = {
    1: "def my_softmax(x):\n    e = torch.exp(x - x.amin(dim=-1, keepdim=True))\n"
       "    return e / e.sum(dim=-1, keepdim=True)",
    3: "def my_attention(query, key, value):\n    return attention_weights(query, key)",
}


def _nbgrader(*args: str, cwd: Path, config: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbgrader", *args, *config], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env=ENV)


def _solution_cells(nb) -> dict[int, nbformat.NotebookNode]:
    cells = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cells[int(meta["grade_id"].rsplit("_", 1)[1])] = cell
    return cells


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Runs the whole cycle once; returns scores and autograded notebooks by student, and what
    `nbgrader validate` said of the untouched notebook."""
    base = tmp_path_factory.mktemp("nbgrader")
    course, exchange = base / "course", base / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)
    source = course / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / f"{LESSON}.ipynb", source)
    config = [f"--CourseDirectory.root={course}", f"--CourseDirectory.course_id={COURSE}",
              f"--Exchange.root={exchange}", f"--Execute.timeout={CELL_TIMEOUT}"]

    def ok(proc):
        assert proc.returncode == 0, (
            f"nbgrader failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
        return proc

    ok(_nbgrader("generate_assignment", ASSIGNMENT, "--force", cwd=course, config=config))
    released = nbformat.read(course / "release" / ASSIGNMENT / f"{LESSON}.ipynb", as_version=4)
    text = json.dumps(released)
    assert "### BEGIN SOLUTION" not in text and "x.amax(dim=-1, keepdim=True)" not in text, "a solution leaked"
    ok(_nbgrader("release_assignment", ASSIGNMENT, cwd=course, config=config))

    solved = _solution_cells(nbformat.read(ROOT / "solutions" / f"{LESSON}.ipynb", as_version=4))
    answers = {"untouched": {}, "correct": {n: c.source for n, c in solved.items()},
               "mistaken": {n: MISTAKES.get(n, c.source) for n, c in solved.items()}}
    for student, sources in answers.items():
        home = base / student
        home.mkdir()
        ok(_nbgrader("fetch_assignment", ASSIGNMENT, cwd=home, config=config))
        path = home / ASSIGNMENT / f"{LESSON}.ipynb"
        nb = nbformat.read(path, as_version=4)
        for n, cell in _solution_cells(nb).items():
            if n in sources:
                cell.source = sources[n]
        nbformat.write(nb, path)
        ok(_nbgrader("submit", ASSIGNMENT, f"--student={student}", cwd=home, config=config))

    validate = _nbgrader("validate", str(base / "untouched" / ASSIGNMENT / f"{LESSON}.ipynb"), cwd=course,
                         config=config)

    ok(_nbgrader("collect", ASSIGNMENT, cwd=course, config=config))
    autograde = _nbgrader("autograde", ASSIGNMENT, cwd=course, config=config)
    ok(autograde)  # a non-zero exit means a student failed to grade (and would show as 0 in the export)

    from nbgrader.api import Gradebook

    scores, notebooks = {}, {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in answers:
            sub = gb.find_submission(ASSIGNMENT, student)
            scores[student] = (sub.score, sub.max_score)
            notebooks[student] = nbformat.read(course / "autograded" / student / ASSIGNMENT / f"{LESSON}.ipynb",
                                               as_version=4)
    return scores, notebooks, validate.stdout + validate.stderr


def test_autograde_scores_untouched_correct_and_mistaken_submissions(graded):
    scores, _, _ = graded
    assert scores["untouched"] == (0.0, 3.0), scores
    assert scores["correct"] == (3.0, 3.0), scores
    assert scores["mistaken"] == (1.0, 3.0), scores


def test_a_failed_check_is_one_line_without_traceback(graded):
    _, notebooks, _ = graded
    seen = {}
    for student, nb in notebooks.items():
        for cell in nb.cells:
            if "ak.check." not in cell.source:
                continue
            errors = [o for o in cell.outputs if o.output_type == "error"]
            printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            if not errors:
                assert printed.startswith("✅"), (student, cell.source, printed)
                continue
            (error,) = errors
            assert error.ename == "CheckFailed"
            assert len(error.traceback) == 1 and "Traceback" not in error.traceback[0], error.traceback
            assert "❌" not in printed and "✏️" not in printed, "the hint is printed and raised: doubled"
            seen.setdefault(student, []).append(error.traceback[0])
    assert len(seen["untouched"]) == 3 and all(line.startswith("✏️") for line in seen["untouched"])
    assert "correct" not in seen
    softmax_line, attention_line = seen["mistaken"]
    assert softmax_line.startswith("❌ softmax") and "max" in softmax_line
    assert attention_line.startswith("❌ attention") and "returned the weights" in attention_line


def test_validate_fails_an_untouched_notebook(graded):
    _, _, validate = graded
    assert "VALIDATION FAILED ON 3 CELL(S)" in validate, validate[-2000:]
    assert "✏️ softmax: replace `raise NotImplementedError()` with your code" in validate
