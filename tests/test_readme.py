"""The README's Python examples run as written."""

import pathlib
import re

README = pathlib.Path(__file__).parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 3


def test_readme_examples_run(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the saving example writes files
    scope = {}
    for block in BLOCKS:  # later blocks may use names from earlier ones, as a reader would
        exec(compile(block, str(README), "exec"), scope)
    assert scope["accuracy"] > 0.9  # both digits examples train to a useful model
    assert scope["cnn_accuracy"] > 0.9  # and the PyTorch code run by fastnn.nn
