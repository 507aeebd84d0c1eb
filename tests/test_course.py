"""The course as a whole: every lesson has its exercises and solutions, and they behave.

Reads the saved (executed) notebooks, so it is fast and runs whatever lessons exist:
- every lesson in notebooks/ has solutions/ and exercises/ notebooks of the same name (and no orphans);
- every check cell (``ak.check.``) prints ✅ in solutions/ and ✏️ in exercises/, never a traceback;
- every solution cell carries nbgrader's metadata with a unique ``grade_id``;
- every explorer widget (``*_explorer(``) has a static figure beside it;
- every lesson asks a predict-first question (``ak.quiz.ask``) before its first figure.
It also tests the exercise generator, ``tools/make_exercises.py``, on small examples.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from make_exercises import exercise_of, stub_source  # noqa: E402

LESSON = re.compile(r"^\d\d_\w+\.ipynb$")
FOLDERS = ("notebooks", "solutions", "exercises")
NAMES = sorted({p.name for f in FOLDERS for p in (ROOT / f).glob("*.ipynb") if LESSON.match(p.name)})
LESSONS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb") if LESSON.match(p.name))
SOLVED = sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb") if LESSON.match(p.name))
EXPLORER = re.compile(r"\b\w+_explorer\(")
CHECK = "ak.check."
NBGRADER_KEYS = {"solution": True, "grade": False, "locked": False, "schema_version": 3}


def read(folder: str, name: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / folder / name, as_version=4)


def code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def stdout(cell) -> str:
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def errors(nb) -> list[str]:
    """One line per error output: ``cell N: Ename: message``."""
    return [f"cell {i}: {o.ename}: {o.evalue}"[:300]
            for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.outputs if o.output_type == "error"]


def has_png(cell) -> bool:
    return any("image/png" in o.get("data", {}) for o in cell.outputs)


def check_cells(nb) -> list:
    return [c for c in code_cells(nb) if CHECK in c.source]


# --- every lesson has its three notebooks ----------------------------------------------------

def test_there_are_lessons():
    assert LESSONS, "notebooks/ holds no lesson (NN_name.ipynb)"


@pytest.mark.parametrize("name", NAMES)
def test_each_lesson_has_notebook_solutions_and_exercises(name):
    missing = [f"{f}/{name}" for f in FOLDERS if not (ROOT / f / name).exists()]
    assert not missing, f"lesson {name[:2]} lacks {', '.join(missing)}"


# --- exercises: ✅ when solved, ✏️ when not, never a traceback ------------------------------------

@pytest.mark.parametrize("name", SOLVED)
def test_solutions_pass_their_checks(name):
    nb = read("solutions", name)
    assert not errors(nb), f"solutions/{name} shows errors: {errors(nb)}"
    checks = check_cells(nb)
    assert len(checks) >= 2, f"solutions/{name} has {len(checks)} check cells; a lesson needs >= 2 exercises"
    for cell in checks:
        out = stdout(cell)
        assert "✅" in out and "❌" not in out and "✏️" not in out, (
            f"solutions/{name}: `{cell.source.strip()}` printed {out.strip()!r}, not ✅")


@pytest.mark.parametrize("name", [n for n in SOLVED if (ROOT / "exercises" / n).exists()])
def test_exercises_show_pencils_not_tracebacks(name):
    nb = read("exercises", name)
    assert not errors(nb), f"exercises/{name} shows errors (only check cells may call stubs): {errors(nb)}"
    checks = check_cells(nb)
    assert len(checks) == len(check_cells(read("solutions", name))), (
        f"exercises/{name} and solutions/{name} have different numbers of check cells")
    for cell in checks:
        out = stdout(cell)
        assert out.strip(), f"exercises/{name}: `{cell.source.strip()}` has no output; run `make exercises`"
        assert "✏️" in out and "✅" not in out and "Traceback" not in out, (
            f"exercises/{name}: `{cell.source.strip()}` printed {out.strip()!r}, not ✏️")
    for cell in code_cells(nb):
        assert "### BEGIN SOLUTION" not in cell.source, f"exercises/{name} leaks a solution region"


@pytest.mark.parametrize("name", SOLVED)
def test_every_solution_cell_is_graded_by_nbgrader_and_followed_by_its_check(name):
    nb = read("solutions", name)
    cells = code_cells(nb)
    ids = []
    for i, cell in enumerate(cells):
        if "### BEGIN SOLUTION" not in cell.source:
            continue
        meta = cell.metadata.get("nbgrader")
        assert meta, f"solutions/{name}: a solution cell has no nbgrader metadata:\n{cell.source[:200]}"
        wrong = {k: meta.get(k) for k, v in NBGRADER_KEYS.items() if meta.get(k) != v}
        assert not wrong, f"solutions/{name}: nbgrader metadata {wrong}, expected {NBGRADER_KEYS}"
        ids.append(meta.get("grade_id"))
        after = cells[i + 1] if i + 1 < len(cells) else None
        assert after is not None and CHECK in after.source, (
            f"solutions/{name}: the cell after a solution must be its check cell (`ak.check.<name>(fn)`)")
    assert ids, f"solutions/{name} has no `### BEGIN SOLUTION` region"
    graded = [c.metadata["nbgrader"].get("grade_id") for c in nb.cells if "nbgrader" in c.metadata]
    assert all(graded) and len(set(graded)) == len(graded), f"solutions/{name}: grade_ids {graded} not unique"


# --- lessons: widgets with a static figure, predict-first questions ------------------------------

@pytest.mark.parametrize("name", LESSONS)
def test_every_explorer_has_a_static_figure_beside_it(name):
    cells = code_cells(read("notebooks", name))
    for i, cell in enumerate(cells):
        if not EXPLORER.search(cell.source):
            continue
        beside = cells[max(i - 1, 0): i + 2]  # the explorer's cell and its neighbouring code cells
        assert any(has_png(c) and "draw_" in c.source for c in beside), (
            f"notebooks/{name}: `{cell.source.strip()[:80]}` has no static figure beside it: the "
            "explorer's own cell or the code cell before/after it must call the widget's draw_* "
            "function and show its image/png")


@pytest.mark.parametrize("name", LESSONS)
def test_every_lesson_asks_a_question_before_the_first_figure(name):
    cells = code_cells(read("notebooks", name))
    quizzes = [i for i, c in enumerate(cells) if "ak.quiz.ask(" in c.source]
    assert quizzes, f"notebooks/{name} has no predict-first question (`ak.quiz.ask`)"
    first_quiz = cells[quizzes[0]]
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in first_quiz.outputs)
    assert shown.startswith("🤔"), f"notebooks/{name}: the quiz cell's saved output is {shown[:80]!r}"
    figures = [i for i, c in enumerate(cells) if has_png(c)]
    assert not figures or quizzes[0] < figures[0], (
        f"notebooks/{name}: the first figure comes before the first question; predict first, then reveal")


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_notebooks_show_no_errors(name):
    nb = read("notebooks", name)
    assert not errors(nb), f"notebooks/{name} shows errors: {errors(nb)}"


# --- the exercise generator --------------------------------------------------------------------

def test_stub_replaces_an_indented_region_and_keeps_the_rest():
    source = (
        "def double(x):\n"
        "    \"\"\"Twice x.\"\"\"\n"
        "    ### BEGIN SOLUTION\n"
        "    y = x + x\n"
        "    return y\n"
        "    ### END SOLUTION\n"
        "\n"
        "double.__doc__")
    assert stub_source(source, "code") == (
        "def double(x):\n"
        "    \"\"\"Twice x.\"\"\"\n"
        "    # YOUR CODE HERE\n"
        "    raise NotImplementedError()\n"
        "\n"
        "double.__doc__")


def test_stub_handles_two_regions_markdown_and_plain_cells():
    two = ("a = 1\n### BEGIN SOLUTION\nb = 2\n### END SOLUTION\n"
           "def f():\n    ### BEGIN SOLUTION\n    return 3\n    ### END SOLUTION")
    stubbed = stub_source(two, "code")
    assert stubbed.count("raise NotImplementedError()") == 2
    assert "b = 2" not in stubbed and "return 3" not in stubbed and stubbed.startswith("a = 1\n")
    assert stub_source("Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION", "markdown") == (
        "Why?\nYOUR ANSWER HERE")
    assert stub_source("x = 1\nprint(x)", "code") == "x = 1\nprint(x)"


def test_stub_refuses_a_region_without_its_end():
    with pytest.raises(ValueError, match="END SOLUTION"):
        stub_source("def f():\n    ### BEGIN SOLUTION\n    return 1", "code")


def make_course_copy(tmp_path: Path) -> Path:
    """A tiny course in ``tmp_path``: the generator, one solutions notebook, its exercise."""
    shutil.copytree(ROOT / "tools", tmp_path / "tools",
                    ignore=shutil.ignore_patterns("nbsrc", "__pycache__"))
    for folder in ("solutions", "exercises"):
        (tmp_path / folder).mkdir()
    solution = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 99 · A tiny lesson"),
        nbformat.v4.new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n"
                                  "    ### END SOLUTION"),
        nbformat.v4.new_code_cell("print('✅' if double(2) == 4 else '❌')"),
    ])
    nbformat.write(solution, tmp_path / "solutions" / "99_tiny.ipynb")
    nbformat.write(exercise_of(solution), tmp_path / "exercises" / "99_tiny.ipynb")
    return tmp_path


def run_check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(root / "tools" / "make_exercises.py"), "--check"],
                          capture_output=True, text=True, cwd=root, timeout=120)


def test_check_passes_when_in_sync_and_catches_a_hand_edit(tmp_path):
    root = make_course_copy(tmp_path)
    result = run_check(root)
    assert result.returncode == 0, result.stdout + result.stderr

    exercise_path = root / "exercises" / "99_tiny.ipynb"
    exercise = nbformat.read(exercise_path, as_version=4)
    assert "raise NotImplementedError()" in exercise.cells[1].source
    exercise.cells[1].source = exercise.cells[1].source.replace(
        "raise NotImplementedError()", "return x + x  # edited by hand")
    nbformat.write(exercise, exercise_path)
    result = run_check(root)
    assert result.returncode == 1
    assert "exercises/99_tiny.ipynb differs" in result.stdout


def test_check_catches_missing_and_orphan_exercises(tmp_path):
    root = make_course_copy(tmp_path)
    (root / "exercises" / "99_tiny.ipynb").rename(root / "exercises" / "98_orphan.ipynb")
    result = run_check(root)
    assert result.returncode == 1
    assert "98_orphan.ipynb has no solutions/ counterpart" in result.stdout
    assert "exercises/99_tiny.ipynb differs" in result.stdout


# --- the docs generator (README lesson map, instructor guide's questions) -----------------------

def test_doc_generator_reads_title_time_and_quizzes():
    from make_doc_figures import quiz_calls, replaced, title_and_minutes

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 09 · Tiny: a test lesson\n\n**Time:** about 12 minutes, plus 8 for "
                                      "the exercises."),
        nbformat.v4.new_code_cell('ak.quiz.ask("2 + 2?", ["3", "4"], answer=1, explanation="Sums.")'),
        nbformat.v4.new_code_cell('ak.quiz.ask(question, options, answer=0, explanation="built")'),
    ])
    assert title_and_minutes(nb) == ("Tiny: a test lesson", "12 + 8 ex.")
    assert quiz_calls(nb) == [("2 + 2?", ["3", "4"], 1, "Sums.")]  # the non-literal call is skipped
    text = "a\n<!-- x:start -->\nold\n<!-- x:end -->\nb"
    assert replaced(text, "x", ["new"]) == "a\n<!-- x:start -->\nnew\n<!-- x:end -->\nb"
    with pytest.raises(ValueError, match="markers"):
        replaced("no markers", "x", ["new"])


def lesson_numbers(lines: list[str]) -> list[int]:
    return [int(m.group(1)) for line in lines if (m := re.match(r"^\| (\d\d) \|", line))]


def test_lesson_map_keeps_core_lessons_first_and_the_expert_zone_under_its_own_heading():
    from make_doc_figures import CORE_LESSONS, EXPERT_HEADING, lesson_rows

    rows = lesson_rows()
    assert rows.count(EXPERT_HEADING) == 1, "the lesson map needs exactly one expert-zone heading"
    cut = rows.index(EXPERT_HEADING)
    core, expert = lesson_numbers(rows[:cut]), lesson_numbers(rows[cut:])
    assert core == list(range(1, CORE_LESSONS + 1)), f"core table lists lessons {core}"
    assert expert and all(n > CORE_LESSONS for n in expert), f"expert table lists lessons {expert}"
    assert expert == sorted(expert)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert EXPERT_HEADING in readme.split("<!-- lesson-map:start -->")[1].split("<!-- lesson-map:end -->")[0]


def test_quiz_list_puts_expert_lessons_under_their_heading():
    from make_doc_figures import CORE_LESSONS, EXPERT_HEADING, quiz_lines

    lines = quiz_lines()
    titles = [int(m.group(1)) for line in lines if (m := re.match(r"^\*\*(\d\d) · ", line))]
    assert titles == sorted(titles)
    if any(n > CORE_LESSONS for n in titles):
        cut = lines.index(EXPERT_HEADING + "\n")
        before = [int(m.group(1)) for line in lines[:cut] if (m := re.match(r"^\*\*(\d\d) · ", line))]
        assert before and max(before) <= CORE_LESSONS
