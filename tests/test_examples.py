"""Every script in examples/ runs to the end (each takes a few seconds: the CNN examples
train one epoch here, FASTNN_EXAMPLE_EPOCHS)."""

import pathlib
import runpy

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).parent.parent / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path, capsys, monkeypatch):
    monkeypatch.setenv("FASTNN_EXAMPLE_EPOCHS", "1")
    # The bundled or generated stand-ins, not a developer's real files.
    for name in ("FASTNN_MNIST", "FASTNN_CIFAR10", "FASTNN_TEXT_DATA", "FASTNN_TEXT"):
        monkeypatch.delenv(name, raising=False)
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out.strip()  # each prints its result


def test_examples_exist():
    assert len(EXAMPLES) >= 4
