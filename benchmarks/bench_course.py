"""Q4: how long does the whole course take to run?

Each lesson notebook ``notebooks/0N_*.ipynb`` is executed top to bottom in a fresh kernel
(nbclient, the engine of ``jupyter nbconvert --execute``) and timed, kernel start-up included.
Lessons whose notebook does not exist yet are listed as missing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LESSONS = range(1, 9)
LESSON_LIMIT_S, COURSE_LIMIT_S = 30.0, 120.0


def run_notebook(path: Path) -> tuple[float, str]:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
        status = "ok"
    except Exception as error:  # a failing lesson is reported, the others still run
        status = f"error: {type(error).__name__}"
    return time.perf_counter() - start, status


def main(quick: bool = False) -> dict:
    from tqdm import tqdm

    common.setup()
    # the kernel is a fresh process; give it the same 2 threads as the targets assume
    os.environ.setdefault("OMP_NUM_THREADS", str(common.THREADS))
    os.environ.setdefault("MPLBACKEND", "Agg")
    rows, times = [], {}
    for n in tqdm(LESSONS, desc="course notebooks", file=sys.stderr):
        found = sorted((ROOT / "notebooks").glob(f"{n:02d}_*.ipynb"))
        if not found:
            rows.append([f"{n:02d}", "missing", "", ""])
            continue
        seconds, status = run_notebook(found[0])
        times[found[0].stem] = seconds
        rows.append([found[0].stem, status, f"{seconds:.1f}", "yes" if seconds <= LESSON_LIMIT_S else "NO"])
    total = sum(times.values())
    rows.append(["**total**", f"{len(times)} of {len(LESSONS)} lessons", f"{total:.1f}",
                 "yes" if total <= COURSE_LIMIT_S else "NO"])
    table = common.markdown_table(["lesson", "status", "seconds", f"within limit ({LESSON_LIMIT_S:.0f} s each, "
                                   f"{COURSE_LIMIT_S:.0f} s total)"], rows)
    targets = []
    if times:
        targets.append(("whole course, seconds", total, COURSE_LIMIT_S))
        targets.append(("slowest lesson, seconds", max(times.values()), LESSON_LIMIT_S))
    markdown = common.report("course", "Each lesson notebook in a fresh kernel", table,
                             ["kernel start-up included; OMP_NUM_THREADS=2"])

    if times:
        fig = common.new_figure(6.5, 3.5)
        ax = fig.add_subplot()
        names = list(times)
        ax.barh(names, [times[k] for k in names], color=["C3" if times[k] > LESSON_LIMIT_S else "C0" for k in names])
        ax.axvline(LESSON_LIMIT_S, color="k", ls="--", lw=1, label=f"{LESSON_LIMIT_S:.0f} s limit")
        ax.invert_yaxis()
        ax.set(xlabel="seconds in a fresh kernel", title=f"Course run time: {total:.0f} s in total")
        ax.legend()
        common.save_figure(fig, "course")
    return {"markdown": markdown, "targets": targets}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="(no effect: every lesson runs)")
    main(parser.parse_args().quick)
