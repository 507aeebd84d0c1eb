"""Run every benchmark (``make bench``), then write the summary and the README table.

    python benchmarks/run_all.py            # the full run (about 5-10 minutes on 2 quiet cores)
    python benchmarks/run_all.py --quick    # shorter lengths and fewer rounds
    python benchmarks/run_all.py --only time kv_cache

Each benchmark prints its table, writes ``results/<name>.md`` and ``results/<name>.png``.
This script adds ``results/summary.md`` (machine, targets met or missed, every table) and
copies it into ``benchmarks/README.md`` between the ``<!-- results -->`` markers.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402

BENCHMARKS = ("time", "memory", "kv_cache", "course")
START, END = "<!-- results -->", "<!-- /results -->"


def _replace_between(text: str, body: str) -> str:
    """``text`` with what stands between the results markers replaced by ``body``."""
    if START not in text or END not in text:
        return text
    head, rest = text.split(START, 1)
    return head + START + "\n" + body + END + rest.split(END, 1)[1]


def _target_rows(targets):
    rows = []
    for target in targets:
        name, value, limit = target[:3]
        kind = target[3] if len(target) > 3 else "max"  # "max": value <= limit; "min": value >= limit
        ok = value <= limit if kind == "max" else value >= limit
        sign = "<=" if kind == "max" else ">="
        shown = f"{value:.4f}" if abs(value) < 0.1 else f"{value:.2f}"
        rows.append([name, shown, f"{sign} {limit:.4g}", "met" if ok else "**missed**"])
    return rows


def _save_targets(name, targets):
    with open(common.RESULTS / f"{name}_targets.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["target", "value", "limit", "kind"])
        for target in targets:
            writer.writerow(list(target[:3]) + [target[3] if len(target) > 3 else "max"])


def _load_targets(name):
    path = common.RESULTS / f"{name}_targets.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [(r["target"] + " (earlier run)", float(r["value"]), float(r["limit"]), r["kind"])
                for r in csv.DictReader(f)]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter lengths, fewer rounds")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    args = parser.parse_args(argv)
    common.setup()
    started = time.perf_counter()
    outputs = {}
    for name in args.only:
        module = importlib.import_module(f"bench_{name}")
        outputs[name] = module.main(quick=args.quick)
        _save_targets(name, outputs[name]["targets"])
    elapsed = time.perf_counter() - started
    for name in BENCHMARKS:  # keep the tables of benchmarks not rerun this time, marked as older
        if name not in outputs and (common.RESULTS / f"{name}.md").exists():
            outputs[name] = {"markdown": (common.RESULTS / f"{name}.md").read_text().replace(
                "\n\n", " (from an earlier run)\n\n", 1), "targets": _load_targets(name)}
    targets = [t for out in outputs.values() for t in out["targets"]]
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    summary = (
        f"Run on {stamp} ({'--quick' if args.quick else 'full run'}, {elapsed / 60:.1f} min).\n\n"
        f"Machine: {common.machine()}.\n\n"
        + (f"Plain float32 matmul: {outputs['time']['matmul_gflops']:.0f} GFLOP/s.\n\n"
           if "matmul_gflops" in outputs.get("time", {}) else "")
        + "### Targets\n\n"
        + common.markdown_table(["target", "measured", "limit", ""], _target_rows(targets))
        + "\n\n" + "\n".join(out["markdown"] for out in outputs.values())
        + "\nPlots: " + ", ".join(f"[results/{n}.png](results/{n}.png)" for n in outputs) + "\n"
    )
    (common.RESULTS / "summary.md").write_text(summary)
    readme = HERE / "README.md"
    text = readme.read_text() if readme.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    readme.write_text(_replace_between(text, summary))
    # The course README carries the headline: when and where it ran, and the targets table.
    headline = summary.split("\n### ", 2)
    course_readme = HERE.parent / "README.md"
    if course_readme.exists():
        short = (headline[0] + "\n### " + headline[1]).replace("### Targets", "**Targets**")
        course_readme.write_text(_replace_between(course_readme.read_text(), short))
    print(f"\nall benchmarks: {elapsed / 60:.1f} min; summary in {common.RESULTS / 'summary.md'}")


if __name__ == "__main__":
    main()
