"""tools/nbbuild.py: percent-format sources become the course notebooks."""

import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import nbbuild  # noqa: E402

SOURCE = '''# %% [markdown]
# # Title
#
# Some *text*.

# %%
import torch
x = torch.ones(2)

# %%
def f(x):
    ### BEGIN SOLUTION
    return x
    ### END SOLUTION

# %%
def g(x):
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION
'''


def test_parse_cells_markdown_and_nbgrader_metadata(tmp_path):
    src = tmp_path / "09_demo.py"
    src.write_text(SOURCE)
    nb = nbbuild.parse(src)
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code", "code"]
    assert nb.cells[0].source == "# Title\n\nSome *text*."
    assert nb.cells[1].source == "import torch\nx = torch.ones(2)"
    assert "nbgrader" not in nb.cells[1].metadata
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells[2:]]
    assert len(set(ids)) == 2
    meta = nb.cells[2].metadata["nbgrader"]
    assert meta["solution"] is True and meta["grade"] is False and meta["schema_version"] == 3
    assert nb.metadata["kernelspec"]["name"] == "python3"
    nbformat.validate(nb)

