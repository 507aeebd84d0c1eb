"""Write docs/img/NN_name.png (one small figure per lesson), README.md's lesson map and the
instructor guide's list of predict-first questions.

    python tools/make_doc_figures.py           # figures + the generated blocks between the markers
    python tools/make_doc_figures.py --check   # exit 1 if a generated block is out of date

The figure is the first image/png output saved in ``notebooks/NN_name.ipynb`` (run
``make notebooks`` first), shrunk to a thumbnail. The table takes each lesson's title and
time from the notebook's first cell ("**Time:** about 25 minutes, plus 15 for the
exercises"); lessons not written yet keep their planned row. Lessons 01-08 (the syllabus's eight
steps) make the first table; the optional expert zone (09 and up) gets its own heading and table.
A lesson is found by its number (``notebooks/NN_*.ipynb``), so its file name may differ from the
plan's. The questions are the ``ak.quiz.ask(...)`` calls of each lesson, with their answers, for
the instructor to ask the room, the expert zone's under their own heading.
"""

from __future__ import annotations

import ast
import base64
import io
import re
import sys
from pathlib import Path

import nbformat
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
README = ROOT / "README.md"
GUIDE = ROOT / "docs" / "instructor_guide.md"
LETTERS = "abcdefghij"
QUIZ_ARGS = ("question", "options", "answer", "explanation")  # attnkit.quiz.ask's signature
THUMB_WIDTH = 320
CORE_LESSONS = 8  # 01-08 follow the syllabus's eight steps; 09 and up are the optional expert zone
EXPERT_HEADING = "### Expert zone (optional)"

# What each lesson teaches, in one line (the plan; the notebook's own title wins when it exists).
PLAN = {
    "01": ("01_sequence_data", "Sequence data",
           "text → tokens → ids → embeddings (B, T, D); an average of embeddings cannot tell "
           "*dog bites man* from *man bites dog* (50%), order-aware models can (100%)"),
    "02": ("02_fixed_context_limits", "The fixed-context bottleneck",
           "a GRU encoder–decoder with one context vector falls off with length; the same model with "
           "additive attention holds, and its alignment is a heatmap"),
    "03": ("03_basic_attention", "Basic attention",
           "query, key, value; scores → softmax → weighted average, by hand and with `ak.attention`, "
           "equal to PyTorch; the inverse temperature β; weights underflow to exactly 0 in float32"),
    "04": ("04_self_attention", "Self-attention",
           "Q, K, V from one sequence; without positions a permutation only permutes the output and "
           "*who did it?* stays at chance; with sinusoidal positions it is solved; attention on a signal"),
    "05": ("05_multi_head_attention", "Multi-head attention",
           "split into heads and merge back; trained heads learn different relations, ablating one "
           "costs its relation; one head is worse and slower, not incapable"),
    "06": ("06_scaled_dot_product", "Scaled dot-product math",
           "why divide by √d_k: score variance and softmax saturation; the gradient at the scores "
           "vanishes while the one at the queries grows and concentrates; training with and without it"),
    "07": ("07_transformer", "The Transformer",
           "encoder and decoder layers checked against PyTorch; a tiny Transformer learns to sort; a "
           "causal decoder generates text; cross-attention; parallel vs sequential; weights vs explanations"),
    "08": ("08_limitations_and_fixes", "Limits and fixes",
           "the T² cost measured in time and memory; online softmax and FlashAttention's I/O argument; "
           "local and block-sparse attention; a Transformer-XL memory; when not to use attention"),
    "09": ("09_positions_extrapolate", "Positions that extrapolate",
           "RoPE and ALiBi from scratch, their scores depend only on the offset; five position schemes "
           "trained on 16 tokens, tested on 64: learned and sinusoidal fail past the training length, "
           "RoPE holds to twice it then collapses, ALiBi is nearly flat past it but imperfect"),
    "10": ("10_what_heads_learn", "What heads learn",
           "induction heads grown from scratch (the phase change, ablations, one layer against two); a "
           "tiny vision model's attention over image patches"),
    "11": ("11_attention_in_llms", "Attention in today's LLMs",
           "a KV cache, grouped- and multi-query attention, rolling and paged KV caches, attention "
           "sinks, FlashAttention's bytes, head pruning and int8, on one small rotary decoder"),
}


def first_png(nb: nbformat.NotebookNode) -> bytes | None:
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                return base64.b64decode(data["image/png"])
    return None


def thumbnail(png: bytes, width: int = THUMB_WIDTH) -> bytes:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    height = round(image.height * width / image.width)
    small = image.resize((width, height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)  # no timestamp in the file: same input, same bytes
    return out.getvalue()


def title_and_minutes(nb: nbformat.NotebookNode) -> tuple[str | None, str | None]:
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    heading = re.search(r"^#\s+\d\d\s*·\s*(.+)$", first, re.MULTILINE)
    time = re.search(r"about (\d+) minutes(?:, plus (\d+) for the exercises)?", first)
    minutes = None
    if time:
        minutes = time.group(1) + (f" + {time.group(2)} ex." if time.group(2) else "")
    return (heading.group(1).strip() if heading else None), minutes


def is_expert(number: str) -> bool:
    return int(number) > CORE_LESSONS


def notebook_of(number: str, planned_stem: str) -> Path:
    """``notebooks/NN_*.ipynb`` for lesson ``number`` (its name may differ from the plan's)."""
    found = sorted((ROOT / "notebooks").glob(f"{number}_*.ipynb"))
    return found[0] if found else ROOT / "notebooks" / f"{planned_stem}.ipynb"


def lesson_rows() -> list[str]:
    """The core lessons' table, then the expert zone's heading and table."""
    header = ["| # | lesson | what you learn | minutes | figure |", "| --- | --- | --- | --- | --- |"]
    plan = dict(PLAN)
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):  # lessons the plan lacks
        plan.setdefault(path.stem[:2], (path.stem, path.stem[3:].replace("_", " "), ""))
    core, expert = list(header), list(header)
    for number, (planned_stem, planned_title, summary) in sorted(plan.items()):
        path = notebook_of(number, planned_stem)
        stem = path.stem
        title, minutes, figure = planned_title, "–", "*(coming)*"
        if path.exists():
            nb = nbformat.read(path, as_version=4)
            title = title_and_minutes(nb)[0] or planned_title
            minutes = title_and_minutes(nb)[1] or "–"
            if (IMG / f"{stem}.png").exists():
                figure = f'<img src="docs/img/{stem}.png" width="160" alt="lesson {number} figure">'
            title = f"[{title}](notebooks/{stem}.ipynb)"
        rows = expert if is_expert(number) else core
        rows.append(f"| {number} | {title} | {summary} | {minutes} | {figure} |")
    return core + ["", EXPERT_HEADING, ""] + expert


def write_figures() -> list[str]:
    IMG.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        png = first_png(nbformat.read(path, as_version=4))
        if png is None:
            print(f"{path.name}: no saved image/png output (run `make notebooks` first?)")
            continue
        target = IMG / f"{path.stem}.png"
        data = thumbnail(png)
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
        written.append(str(target.relative_to(ROOT)))
    return written


def quiz_calls(nb: nbformat.NotebookNode) -> list[tuple[str, list[str], int, str]]:
    """``(question, options, answer, explanation)`` of every literal ``ak.quiz.ask(...)`` call."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "quiz.ask(" not in cell.source:
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("quiz.ask"):
                try:
                    values = dict(zip(QUIZ_ARGS, (ast.literal_eval(a) for a in node.args)))
                    values.update({k.arg: ast.literal_eval(k.value) for k in node.keywords})
                    found.append(tuple(values[name] for name in QUIZ_ARGS))
                except (ValueError, KeyError):  # built from variables: nothing to quote
                    continue
    return found


def quiz_lines() -> list[str]:
    lines = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if is_expert(path.stem[:2]) and EXPERT_HEADING + "\n" not in lines:
            lines.append(EXPERT_HEADING + "\n")
        nb = nbformat.read(path, as_version=4)
        title = title_and_minutes(nb)[0] or path.stem
        lines.append(f"**{path.stem[:2]} · {title}**\n")
        for i, (question, options, answer, explanation) in enumerate(quiz_calls(nb), 1):
            choices = "; ".join(f"({LETTERS[j]}) {o}" for j, o in enumerate(options))
            lines.append(f"{i}. {question}  \n   {choices}  \n"
                         f"   *Answer:* ({LETTERS[answer]}). {explanation}\n")
    return lines


def replaced(text: str, block: str, lines: list[str]) -> str:
    start, end = f"<!-- {block}:start -->", f"<!-- {block}:end -->"
    if start not in text or end not in text:
        raise ValueError(f"the markers {start} ... {end} are missing")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return head + start + "\n" + "\n".join(lines) + "\n" + end + tail


GENERATED = ((README, "lesson-map", lesson_rows), (GUIDE, "quizzes", quiz_lines))


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = [path.relative_to(ROOT) for path, block, make in GENERATED
                 if replaced(text := path.read_text(encoding="utf-8"), block, make()) != text]
        for path in stale:
            print(f"{path} is out of date; run `python tools/make_doc_figures.py`")
        return 1 if stale else 0
    for name in write_figures():
        print(f"wrote {name}")
    for path, block, make in GENERATED:
        path.write_text(replaced(path.read_text(encoding="utf-8"), block, make()), encoding="utf-8")
        print(f"updated {block} in {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
