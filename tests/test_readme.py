"""Every ```python block of README.md runs, as its own program, against the simulator.

Convention (documented at the end of the README): a block runs as written,
as a script in a fresh interpreter, in an empty temporary directory, without
OPENAI_API_KEY. A block that imports tkinter gets an Xvfb display. A block
preceded by ``<!-- readme-test: skip REASON -->`` (a microphone, a real API
key) is reported as skipped with that reason.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, NamedTuple, Optional

import pytest
from support_docs import ROOT, NoDisplay, clean_env, run_python, xvfb_display

README = ROOT / "README.md"
_BLOCK = re.compile(
    r"(?:<!--\s*readme-test:\s*skip\s*(?P<reason>[^>]*?)\s*-->\s*\n)?^```python[ \t]*\n(?P<code>.*?)^```",
    re.S | re.M,
)


class Block(NamedTuple):
    line: int
    code: str
    skip: Optional[str]


def python_blocks(text: str) -> List[Block]:
    blocks = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("code"))
        reason = match.group("reason")
        blocks.append(Block(line, match.group("code"), reason if reason is not None else None))
    return blocks


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_runnable_examples_and_few_skips() -> None:
    assert len(BLOCKS) >= 8
    skipped = [b for b in BLOCKS if b.skip is not None]
    assert len(skipped) <= 4, "keep the skipped blocks few: %s" % [b.line for b in skipped]
    assert all(b.skip for b in skipped), "a skip marker must say why"


@pytest.mark.parametrize("block", BLOCKS, ids=["line%d" % b.line for b in BLOCKS])
def test_python_block_runs(block: Block, tmp_path: Path) -> None:
    if block.skip is not None:
        pytest.skip(block.skip)
    pytest.importorskip("websockets", reason="the README examples use the simulator (server extra)")
    script = tmp_path / ("test_readme_line%d.py" % block.line)  # a file, so __file__ works
    script.write_text(block.code, encoding="utf-8")
    if "tkinter" in block.code:
        pytest.importorskip("tkinter", reason="this Python has no tkinter")
        try:
            with xvfb_display() as display:
                result = run_python([str(script)], timeout=90, env=clean_env(DISPLAY=display), cwd=tmp_path)
        except NoDisplay as exc:
            pytest.skip(str(exc))
    else:
        result = run_python([str(script)], timeout=90, env=clean_env(), cwd=tmp_path)
    assert result.returncode == 0, "README.md line %d failed:\n%s\n%s" % (block.line, result.stdout, result.stderr)


def test_the_files_and_commands_the_readme_names_exist() -> None:
    text = README.read_text(encoding="utf-8")
    for path in sorted(set(re.findall(r"\b(samples/[\w.]+\.(?:py|ipynb))", text))):
        assert (ROOT / path).exists(), path
    for command in re.findall(r"python -m realtime_sync (\w+)", text):
        assert command in ("demo", "chat", "voice", "events", "simulate"), command
