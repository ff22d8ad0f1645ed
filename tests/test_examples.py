"""Every script in examples/ runs to the end in its short mode (FASTNN_EXAMPLE_QUICK=1, each
example's own few epochs: seconds each, on the bundled or generated data) and reports a
result clearly better than chance, parsed from the line it prints last about it:
``test accuracy 0.9644``, ``test mae 44.19 (baseline 66.38)``, ..."""

import importlib.util
import os
import pathlib
import re
import runpy
import subprocess
import sys

import pytest

import fastnn as fn

ROOT = pathlib.Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
NUMBER = r"([0-9]+(?:\.[0-9]+)?)"


def accuracy(classes, margin):
    """`test accuracy A` with A above chance (1 / classes) by margin."""
    def check(out):
        value = float(re.findall(rf"test accuracy {NUMBER}", out)[-1])
        assert value > 1 / classes + margin, f"test accuracy {value} (chance {1 / classes:.3f})"
    return check


def below_baseline(metric, fraction):
    """`<metric> V (baseline B)` with V at most fraction * B (errors: lower is better)."""
    def check(out):
        value, baseline = map(float, re.findall(rf"{metric} {NUMBER} \(baseline {NUMBER}\)",
                                                out)[-1])
        assert 0 < baseline and value < fraction * baseline, \
            f"{metric} {value}, baseline {baseline}"
    return check


def above_baseline(metric, margin):
    """`<metric> V (baseline B)` with V above B by margin (accuracies: higher is better)."""
    def check(out):
        value, baseline = map(float, re.findall(rf"{metric} {NUMBER} \(baseline {NUMBER}\)",
                                                out)[-1])
        assert value > baseline + margin, f"{metric} {value}, baseline {baseline}"
    return check


# What each example must report in its short mode. The margins leave room: the short runs
# score well above them (0.69 to 0.94 for the 10-class ones, 0.75 and 0.85 for the binary ones,
# MSE and MAE at 0.47 and 0.67 of their baselines, the character model 0.34 against 0.14).
CHECKS = {
    "binary_classifier": accuracy(2, 0.15),
    "char_lm": above_baseline("next-character accuracy", 0.1),  # most frequent character
    "cifar10_pytorch_style": accuracy(10, 0.3),
    "diabetes_regression": below_baseline("test mae", 0.9),  # predicting the mean
    "digits_autoencoder": below_baseline("test mse", 0.75),  # predicting the mean image
    "digits_keras": accuracy(10, 0.3),
    "digits_lstm": accuracy(10, 0.3),
    "digits_pytorch_style": accuracy(10, 0.3),
    "digits_subclassed_keras": accuracy(10, 0.3),
    "lstm_text_classifier": accuracy(2, 0.15),
    "mnist_cnn_keras": accuracy(10, 0.3),
    "mnist_lenet_pytorch_style": accuracy(10, 0.3),
    "mnist_mlp_pytorch_style": accuracy(10, 0.3),
}


def run_example(path, monkeypatch, tmp_path, **env):
    monkeypatch.chdir(tmp_path)  # anything an example writes lands there
    # The bundled or generated stand-ins, not a developer's real files or settings.
    for name in ("FASTNN_MNIST", "FASTNN_CIFAR10", "FASTNN_TEXT_DATA", "FASTNN_TEXT",
                 "FASTNN_EXAMPLE_EPOCHS", "FASTNN_EXAMPLE_QUICK"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", [str(path)])  # as run from a shell with no options
    runpy.run_path(str(path), run_name="__main__")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_beats_chance(path, capsys, monkeypatch, tmp_path):
    if path.stem == "diabetes_regression":
        pytest.importorskip("sklearn")
    run_example(path, monkeypatch, tmp_path, FASTNN_EXAMPLE_QUICK="1")
    out = capsys.readouterr().out
    CHECKS[path.stem](out)
    if path.stem == "digits_autoencoder" and importlib.util.find_spec("matplotlib"):
        png = tmp_path / "digits_autoencoder.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_example_is_checked():
    assert len(EXAMPLES) >= 12
    assert sorted(CHECKS) == [p.stem for p in EXAMPLES], "add the new example to CHECKS"


def test_autoencoder_without_matplotlib(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib... fails
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    run_example(ROOT / "examples" / "digits_autoencoder.py", monkeypatch, tmp_path,
                FASTNN_EXAMPLE_EPOCHS="1")
    assert "no picture saved" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


def test_epochs_env_overrides_quick_mode(capsys, monkeypatch, tmp_path):
    run_example(ROOT / "examples" / "digits_pytorch_style.py", monkeypatch, tmp_path,
                FASTNN_EXAMPLE_QUICK="1", FASTNN_EXAMPLE_EPOCHS="1")
    out = capsys.readouterr().out
    assert re.search(r"^epoch  1  loss", out, re.M) and "epoch  2" not in out  # quick: 3


def test_command_line_options(tmp_path):
    """Run as scripts, the examples read their command line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTNN_EXAMPLE")}
    env["PYTHONPATH"] = os.pathsep.join([str(pathlib.Path(fn.__file__).parent.parent),
                                         env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "digits_pytorch_style.py"),
                          "--epochs", "2"], env=env, cwd=tmp_path, capture_output=True,
                         text=True, check=True, timeout=120).stdout
    assert re.search(r"^epoch  2  loss", out, re.M) and "epoch  3" not in out
    for path in EXAMPLES:  # every one documents --epochs and --quick
        usage = subprocess.run([sys.executable, str(path), "--help"], env=env, cwd=tmp_path,
                               capture_output=True, text=True, check=True, timeout=120).stdout
        assert "--epochs" in usage and "--quick" in usage, path.name
