"""Execute samples/notebook.ipynb end to end with nbclient, against the simulator."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
from support_docs import SAMPLES

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbformat (test extra)")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs nbclient (test extra)")
pytest.importorskip("ipykernel", reason="the notebook test needs ipykernel (test extra)")
pytest.importorskip("websockets", reason="the simulator needs the server extra (websockets)")

KERNEL = "realtime-sync-test"


@pytest.fixture
def kernel_for_this_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec that runs the interpreter running the tests (so the venv's packages are used)."""
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "realtime_sync tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("REALTIME_SYNC_URL", raising=False)
    return KERNEL


def outputs_text(cell: Dict[str, Any]) -> str:
    parts: List[str] = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output["text"])
        for kind in ("text/plain", "text/html"):
            data = output.get("data", {}).get(kind)
            if data:
                parts.append(data if isinstance(data, str) else "".join(data))
    return "".join(parts)


def test_notebook_runs_end_to_end(kernel_for_this_interpreter: str, tmp_path: Path) -> None:
    notebook = nbformat.read(str(SAMPLES / "notebook.ipynb"), as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name=kernel_for_this_interpreter,
        timeout=90,
        startup_timeout=60,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell in code:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, "\n".join(errors[0].get("traceback", []))
    texts = [outputs_text(cell) for cell in code]

    assert "connected: True - simulator" in texts[0]
    assert "Hello!" in texts[1]  # the reply's transcript
    assert "seconds of audio" in texts[2]
    assert "<audio" in texts[2] and "data:audio/wav;base64," in texts[2]  # the inline player
    assert "fahrenheit 70.7" in texts[3]  # the follow-up answer uses the tool's result
    table = texts[4]
    assert table.count("<tr>") >= 6 and "<th>type</th>" in table
    for kind in ("function_call", "function_call_output", "message"):
        assert "<td>%s</td>" % kind in table
    assert "disconnected" in texts[5]
