"""Q4: how long does the whole course take to run, and what does each lesson's kernel cost?

Each notebook ``notebooks/NN_*.ipynb`` is executed top to bottom in a fresh kernel (nbclient, the engine
of ``jupyter nbconvert --execute``) and timed, kernel start-up included. A last cell, added to the copy
that runs, reads the kernel's peak resident memory (``VmHWM``, its own high-water mark) and the CPU
seconds it used. Those two numbers size a JupyterHub: the instructor guide's table between the
``footprint`` markers is rewritten from them.

Limits: core lessons 01–08 30 s each and 120 s together; expert notebooks (09 and up) 60 s each;
every kernel's peak memory 500 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "instructor_guide.md"
CORE_LIMIT_S, EXPERT_LIMIT_S, COURSE_LIMIT_S, MEMORY_LIMIT_MB = 30.0, 60.0, 120.0, 500.0
# Peak memory is the kernel's own high-water mark, VmHWM. Not ru_maxrss: on Linux it survives fork and exec,
# so a kernel started by a process that once held 1.4 GB reports 1.4 GB (measured: every notebook "peaked"
# at 1448 MB after the memory benchmark had run in the parent).
USAGE_CELL = (
    "import json as _json, resource as _resource\n"
    "_usage = _resource.getrusage(_resource.RUSAGE_SELF)\n"
    "_peak = _usage.ru_maxrss\n"
    "try:\n"
    "    _peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
    "except (OSError, StopIteration):\n"
    "    pass\n"
    "print('@@usage', _json.dumps({'maxrss_kb': _peak, 'cpu_s': _usage.ru_utime + _usage.ru_stime}))"
)


def is_core(stem: str) -> bool:
    return int(stem[:2]) <= 8


def run_notebook(path: Path) -> dict:
    """Seconds, status, peak RSS (MB) and CPU seconds of one notebook in a fresh kernel."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(USAGE_CELL))
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
        status = "ok"
    except Exception as error:  # a failing lesson is reported, the others still run
        status = f"error: {type(error).__name__}"
    seconds = time.perf_counter() - start
    usage = {}
    for out in nb.cells[-1].get("outputs", []):
        for line in out.get("text", "").splitlines():
            if line.startswith("@@usage "):
                usage = json.loads(line.split(" ", 1)[1])
    return {"seconds": seconds, "status": status,
            "peak_mb": usage.get("maxrss_kb", float("nan")) / 1024, "cpu_s": usage.get("cpu_s", float("nan"))}


def sizing_markdown(results: dict[str, dict], when: str) -> str:
    """The instructor guide's footprint table and the sizing that follows from it."""
    rows = [[stem, f"{r['seconds']:.1f}", f"{r['cpu_s']:.1f}", f"{r['peak_mb']:.0f}"] for stem, r in results.items()]
    table = common.markdown_table(["notebook", "wall seconds", "kernel CPU-seconds", "kernel peak memory (MB)"], rows)
    peak = max(r["peak_mb"] for r in results.values())
    return (
        f"Measured by `make bench` ({when}): each notebook in a fresh kernel, one after the other, "
        "`OMP_NUM_THREADS=2`; peak memory is the kernel's high-water mark (`VmHWM`).\n\n" + table + "\n\n"
        f"The largest kernel peaks at **{peak:.0f} MB**. A learner's JupyterLab server adds about 150 MB "
        "(`make workshop-check` measured 487 MB resident per learner running lesson 03, whose kernel peaks "
        f"near 335 MB): a learner running one notebook at a time needs about {peak + 150:.0f} MB, and 30 "
        f"learners running the largest notebook at once about {30 * (peak + 150) / 1024:.1f} GiB. CPU-seconds add "
        "up: 30 learners pressing *Run All* on the same notebook within a minute ask for 30× its CPU-seconds "
        "in that minute, so on a small machine they wait; stagger the starts or size the CPUs for it."
    )


def write_guide(markdown: str) -> bool:
    if not GUIDE.exists():
        return False
    text = GUIDE.read_text()
    start, end = "<!-- footprint:start -->", "<!-- footprint:end -->"
    if start not in text or end not in text:
        return False
    new = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: f"{start}\n{markdown}\n{end}", text, flags=re.S)
    GUIDE.write_text(new)
    return True


def main(quick: bool = False) -> dict:
    from tqdm import tqdm

    common.setup()
    # the kernel is a fresh process; give it the same 2 threads as the targets assume
    os.environ.setdefault("OMP_NUM_THREADS", str(common.THREADS))
    os.environ.setdefault("MPLBACKEND", "Agg")
    notebooks = sorted(p for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    results: dict[str, dict] = {}
    for path in tqdm(notebooks, desc="course notebooks", file=sys.stderr):
        results[path.stem] = run_notebook(path)
    rows = []
    for stem, r in results.items():
        limit = CORE_LIMIT_S if is_core(stem) else EXPERT_LIMIT_S
        ok = r["seconds"] <= limit and r["peak_mb"] <= MEMORY_LIMIT_MB
        rows.append([stem, r["status"], f"{r['seconds']:.1f}", f"{r['cpu_s']:.1f}", f"{r['peak_mb']:.0f}",
                     "yes" if ok else "NO"])
    core = {k: v["seconds"] for k, v in results.items() if is_core(k)}
    expert = {k: v["seconds"] for k, v in results.items() if not is_core(k)}
    total = sum(core.values())
    rows.append(["**core total**", f"{len(core)} lessons", f"{total:.1f}", "", "", "yes" if total <= COURSE_LIMIT_S
                 else "NO"])
    table = common.markdown_table(
        ["notebook", "status", "seconds", "kernel CPU-s", "peak MB",
         f"within limits ({CORE_LIMIT_S:.0f} s core, {EXPERT_LIMIT_S:.0f} s expert, {MEMORY_LIMIT_MB:.0f} MB)"], rows)
    targets = []
    if core:
        targets.append(("whole core course, seconds", total, COURSE_LIMIT_S))
        targets.append(("slowest core lesson, seconds", max(core.values()), CORE_LIMIT_S))
    if expert:
        targets.append(("slowest expert notebook, seconds", max(expert.values()), EXPERT_LIMIT_S))
    if results:
        targets.append(("largest kernel peak memory, MB", max(r["peak_mb"] for r in results.values()),
                        MEMORY_LIMIT_MB))
        write_guide(sizing_markdown(results, time.strftime("%Y-%m-%d")))
    markdown = common.report("course", "Each notebook in a fresh kernel", table,
                             ["kernel start-up included; OMP_NUM_THREADS=2; peak memory is the kernel's VmHWM"])

    if results:
        fig = common.new_figure(6.5, 4.0)
        ax = fig.add_subplot()
        names = list(results)
        limits = [CORE_LIMIT_S if is_core(k) else EXPERT_LIMIT_S for k in names]
        secs = [results[k]["seconds"] for k in names]
        ax.barh(names, secs, color=["C3" if s > lim else "C0" for s, lim in zip(secs, limits)])
        ax.axvline(CORE_LIMIT_S, color="k", ls="--", lw=1, label=f"{CORE_LIMIT_S:.0f} s core limit")
        ax.axvline(EXPERT_LIMIT_S, color="k", ls=":", lw=1, label=f"{EXPERT_LIMIT_S:.0f} s expert limit")
        ax.invert_yaxis()
        ax.set(xlabel="seconds in a fresh kernel", title=f"Course run time: {total:.0f} s for the core lessons")
        ax.legend()
        common.save_figure(fig, "course")
    return {"markdown": markdown, "targets": targets}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="(no effect: every notebook runs)")
    main(parser.parse_args().quick)
