"""Make (or update) a git branch that holds the course without its solutions, for learners to pull.

    python tools/learner_branch.py                 # branch `learners` from HEAD
    python tools/learner_branch.py --branch day1   # another name

The branch's tree is HEAD's tree minus ``solutions/`` and ``tools/nbsrc/solutions/`` (the solutions'
sources). It is written with git plumbing on a temporary index, so your checkout, index and working
files are not touched. Each run adds one commit on top of the branch, so a learner's `git pull` (or
nbgitpuller) is a fast-forward. Push it where learners pull from: ``git push origin learners``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = ("solutions", "tools/nbsrc/solutions")


def git(*args: str, env: dict | None = None, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def make_branch(branch: str, cwd: Path = ROOT) -> str:
    """Commit HEAD's tree without the solutions onto ``branch``; returns the new commit's id."""
    head = git("rev-parse", "HEAD", cwd=cwd)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GIT_INDEX_FILE=str(Path(tmp) / "index"))
        git("read-tree", head, env=env, cwd=cwd)
        for path in HIDDEN:
            git("rm", "-r", "--cached", "--quiet", "--ignore-unmatch", path, env=env, cwd=cwd)
        tree = git("write-tree", env=env, cwd=cwd)
    parent = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], cwd=cwd,
                            capture_output=True, text=True).stdout.strip()
    if parent and git("rev-parse", f"{parent}^{{tree}}", cwd=cwd) == tree:
        return parent  # nothing changed since the last run
    message = f"Course for learners (no solutions), from {head[:12]}"
    commit = git("commit-tree", tree, *(["-p", parent] if parent else []), "-m", message, cwd=cwd)
    git("update-ref", f"refs/heads/{branch}", commit, cwd=cwd)
    return commit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--branch", default="learners")
    args = parser.parse_args(argv)
    if args.branch == git("rev-parse", "--abbrev-ref", "HEAD"):
        parser.error(f"{args.branch} is the branch you are on; pick another name")
    commit = make_branch(args.branch)
    print(f"branch {args.branch} is at {commit[:12]}: the course without {', '.join(HIDDEN)}. "
          f"Push it with `git push origin {args.branch}`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
