"""notebooks/quickstart.ipynb runs top to bottom on the embedded model."""
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "quickstart.ipynb"


@pytest.mark.slow
def test_quickstart_notebook_executes(real_lm, tmp_path):   # real_lm: model converted once
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = ["".join(o.get("text", "") for o in c.get("outputs", []))
               for c in nb.cells if c.cell_type == "code"]
    text = "\n".join(outputs)
    assert "z*:" in text and "accuracy on D:" in text
    assert "refine drafts were written with our template: True" in text
    assert any(o.get("output_type") == "display_data" and "image/png" in o.get("data", {})
               for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "'examples': 16" in text                        # D' labelled with z*
    assert '"report":' in text or "'report':" in text
