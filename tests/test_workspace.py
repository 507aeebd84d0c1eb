"""The learner's workspace (tools/workspace.py), `make progress` (tools/progress.py) and the learner branch.

What must hold: a learner's edited notebook in my-work/ survives `make workspace` again, `make exercises`,
the checks `make test` runs, and a `git pull` of a course update; a course update is reported, never
applied over the learner's answers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import learner_branch  # noqa: E402
import progress  # noqa: E402
import workspace  # noqa: E402

GIT_ENV = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.org", GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
LESSON = "03_basic_attention.ipynb"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True).stdout


def answer(path: Path, text: str = "# my answer\n") -> bytes:
    """Writes a learner's edit into the first solution cell; returns the file's bytes."""
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "raise NotImplementedError()" in c.source)
    cell.source = text + cell.source
    nbformat.write(nb, path)
    return path.read_bytes()


def clone(tmp_path: Path) -> Path:
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(ROOT), str(origin))
    learner = tmp_path / "learner"
    git(tmp_path, "clone", "--quiet", str(origin), str(learner))
    return learner


def test_copies_only_what_is_missing(tmp_path):
    exercises, work = tmp_path / "exercises", tmp_path / "my-work"
    exercises.mkdir()
    for path in sorted((ROOT / "exercises").glob("0[13]_*.ipynb")):
        shutil.copy(path, exercises / path.name)
    first = workspace.sync(exercises, work)
    assert first["copied"] == ["01_sequence_data.ipynb", LESSON]
    mine = answer(work / LESSON)
    second = workspace.sync(exercises, work)
    assert second["copied"] == [] and sorted(second["kept"]) == ["01_sequence_data.ipynb", LESSON]
    assert (work / LESSON).read_bytes() == mine
    # the learner deletes a notebook: the next run brings it back, fresh
    (work / "01_sequence_data.ipynb").unlink()
    assert workspace.sync(exercises, work)["copied"] == ["01_sequence_data.ipynb"]
    # an upstream change is reported, and the learner's copy is left alone
    nb = nbformat.read(exercises / LESSON, as_version=4)
    nb.cells[0].source += "\n\nA sentence the course added."
    nbformat.write(nb, exercises / LESSON)
    third = workspace.sync(exercises, work)
    assert third["changed_upstream"] == [LESSON]
    assert (work / LESSON).read_bytes() == mine
    text = workspace.describe(third, work, exercises)
    assert LESSON in text and "kept" in text
    # outputs alone do not count as a change
    nb = nbformat.read(exercises / "01_sequence_data.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    nbformat.write(nb, exercises / "01_sequence_data.ipynb")
    assert "01_sequence_data.ipynb" in workspace.sync(exercises, work)["kept"]


def test_a_notebook_of_unknown_origin_is_kept(tmp_path):
    exercises, work = tmp_path / "exercises", tmp_path / "my-work"
    exercises.mkdir()
    work.mkdir()
    shutil.copy(ROOT / "exercises" / LESSON, exercises / LESSON)
    (work / LESSON).write_text("not even a notebook")
    report = workspace.sync(exercises, work)
    assert report["unknown"] == [LESSON]
    assert (work / LESSON).read_text() == "not even a notebook"


def test_workspace_refuses_a_missing_exercises_folder(tmp_path, capsys):
    assert workspace.main(["--exercises", str(tmp_path / "nope"), "--workspace", str(tmp_path / "w")]) == 2
    assert "no exercises folder" in capsys.readouterr().err


def test_workspace_is_ignored_by_git_lint_and_tests():
    ignored = subprocess.run(["git", "check-ignore", "-q", "my-work/03_basic_attention.ipynb"], cwd=ROOT)
    assert ignored.returncode == 0, "my-work/ must be git-ignored"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"my-work"' in pyproject, "ruff must not lint the learner's answers (make test runs ruff check .)"
    makefile = (ROOT / "Makefile").read_text()
    test_recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "my-work" not in test_recipe and "WORKSPACE" not in test_recipe


def test_edits_survive_make_exercises_and_a_git_pull(tmp_path):
    learner = clone(tmp_path)
    py = sys.executable
    subprocess.run([py, "tools/workspace.py"], cwd=learner, check=True, capture_output=True)
    mine = answer(learner / "my-work" / LESSON)
    assert git(learner, "status", "--porcelain") == "", "the workspace shows up in git status"
    # make exercises: regenerates exercises/ only (one lesson, to stay quick)
    subprocess.run([py, "tools/make_exercises.py", "03"], cwd=learner, check=True, capture_output=True)
    subprocess.run([py, "tools/make_exercises.py", "--check"], cwd=learner, check=True, capture_output=True)
    assert (learner / "my-work" / LESSON).read_bytes() == mine
    # a course update changes the same exercise upstream
    maintainer = tmp_path / "maintainer"
    git(tmp_path, "clone", "--quiet", str(tmp_path / "origin.git"), str(maintainer))
    nb = nbformat.read(maintainer / "exercises" / LESSON, as_version=4)
    nb.cells[0].source += "\n\nA sentence the course added."
    nbformat.write(nb, maintainer / "exercises" / LESSON)
    git(maintainer, "commit", "--quiet", "-am", "course update")
    git(maintainer, "push", "--quiet", "origin", "HEAD")
    git(learner, "checkout", "--quiet", "--", "exercises")  # what make exercises rewrote (outputs)
    git(learner, "pull", "--quiet", "--ff-only")
    assert (learner / "my-work" / LESSON).read_bytes() == mine
    out = subprocess.run([py, "tools/workspace.py"], cwd=learner, check=True, capture_output=True, text=True).stdout
    assert "Changed in the course" in out and LESSON in out
    assert (learner / "my-work" / LESSON).read_bytes() == mine


def test_progress_reports_one_line_per_exercise(tmp_path, capsys):
    work = tmp_path / "my-work"
    work.mkdir()
    shutil.copy(ROOT / "solutions" / LESSON, work / "03_solved.ipynb")
    shutil.copy(ROOT / "exercises" / LESSON, work / "03_untouched.ipynb")
    before = answer(work / "03_untouched.ipynb", "import sys\n")  # an edit that changes nothing
    assert progress.main([str(work)]) == 0
    out = capsys.readouterr().out.splitlines()
    solved = [line for line in out if line.startswith("03_solved")]
    todo = [line for line in out if line.startswith("03_untouched")]
    assert solved and all("✅" in line for line in solved)
    assert len(todo) == len(solved) and all("✏️" in line for line in todo)
    n = len(solved)
    assert out[-1] == f"Total: {n} / {2 * n} exercises pass ✅, 0 ❌, {n} ✏️ to start."
    assert (work / "03_untouched.ipynb").read_bytes() == before, "progress must not write the learner's notebook"


def test_progress_names_a_broken_check_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import attnkit as ak"),
                nbformat.v4.new_code_cell("ak.check.softmax(my_softmax)")]
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    (line,) = progress.run_notebook(path)
    assert line.icon == "❌" and "NameError" in line.verdict


def test_learner_branch_has_no_solutions(tmp_path):
    learner = clone(tmp_path)
    commit = learner_branch.make_branch("learners", cwd=learner)
    files = git(learner, "ls-tree", "-r", "--name-only", commit).split()
    assert not [f for f in files if f.startswith(("solutions/", "tools/nbsrc/solutions/"))]
    assert any(f.startswith("notebooks/") for f in files) and any(f.startswith("exercises/") for f in files)
    assert git(learner, "status", "--porcelain") == ""  # the checkout was not touched
    assert (learner / "solutions").is_dir()
    assert learner_branch.make_branch("learners", cwd=learner) == commit  # nothing new, no new commit


@pytest.mark.parametrize("users", [2])
def test_workshop_check_small(users):
    """The shipped hub config, started for real on 127.0.0.1: 2 learners spawn and run lesson 03."""
    proxy = ROOT / ".venv/node/node_modules/.bin/configurable-http-proxy"
    if not proxy.exists() and not shutil.which("configurable-http-proxy"):
        pytest.skip("configurable-http-proxy is not installed (`make dev` installs it)")
    jupyterhub = Path(sys.executable).parent / "jupyterhub"
    assert jupyterhub.exists(), "jupyterhub is a test dependency (requirements-dev.txt)"
    result = subprocess.run([sys.executable, "tools/workshop_check.py", "--users", str(users), "--proxy",
                             str(proxy if proxy.exists() else shutil.which("configurable-http-proxy")),
                             "--spawn-timeout", "300", "--run-timeout", "300"],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{users} / {users} servers started" in result.stdout
    assert f"{users} / {users} lesson runs finished without error" in result.stdout
    assert "nothing left running" in result.stdout
