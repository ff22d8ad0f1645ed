"""fit / evaluate / predict output (verbose 0, 1, 2) and History.plot (fastnn/progress.py).

verbose=1 draws a live tqdm bar only where stdout is a terminal: checked in a child process
whose stdout is a pseudo-terminal. Elsewhere (a file, a pipe) it writes plain lines. The bar
must not change results: a live bar replays each epoch in chunks instead of one C++ call.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastnn as fn
from fastnn import layers, progress

# The fastnn this test imported (installed, or a source tree with its built extension), so a
# child process runs the same build.
PYTHON_DIR = str(pathlib.Path(fn.__file__).resolve().parent.parent)


class FakeTerminal(io.StringIO):
    """A StringIO that says it is a terminal: the live bar, in-process."""

    def isatty(self):
        return True


def _data(n=600, seed=0):
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, 8)).astype(np.float32)
    y = (x[:, :3].sum(axis=1) > 0).astype(np.int64) + (x[:, 3] > 1).astype(np.int64)
    return x, y


def _model():
    fn.manual_seed(0)
    model = fn.Sequential([layers.Dense(16, activation="relu"), layers.Dense(3)],
                          input_shape=(8,))
    model.compile("adam", fn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


class _BatchCallback(fn.callbacks.Callback):
    """A per-batch hook: fit then runs step by step instead of replaying whole epochs."""

    def on_train_batch_end(self, batch, logs=None):
        pass


def _fit(verbose, out, per_batch=False, **kw):
    model = _model()
    x, y = _data()
    saved = sys.stdout
    sys.stdout = out
    try:
        h = model.fit(x, y, epochs=3, batch_size=16, verbose=verbose, validation_split=0.2,
                      callbacks=[_BatchCallback()] if per_batch else None, **kw)
    finally:
        sys.stdout = saved
    return h, model


# --- not a terminal: plain lines --------------------------------------------------------------


def test_verbose_1_writes_plain_lines_to_a_file(tmp_path):
    x, y = _data()
    model = _model()
    path = tmp_path / "log.txt"
    with open(path, "w") as out:
        saved, sys.stdout = sys.stdout, out
        try:
            model.fit(x, y, epochs=3, batch_size=16, verbose=1, validation_split=0.2)
            model.evaluate(x, y, verbose=1)
            model.predict(x, batch_size=100, verbose=1)
        finally:
            sys.stdout = saved
    text = path.read_text()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 5
    for i in range(3):
        assert re.match(rf"Epoch {i + 1}/3 - \S+ - loss: [0-9.]+ - accuracy: [0-9.]+ - "
                        r"val_loss: [0-9.]+ - val_accuracy: [0-9.]+$", lines[i]), lines[i]
    assert re.match(r"loss: [0-9.]+ - accuracy: [0-9.]+$", lines[3]), lines[3]
    assert re.match(r"6/6 - \S+$", lines[4]), lines[4]


def test_verbose_1_writes_plain_lines_to_a_pipe():
    code = textwrap.dedent("""
        import numpy as np, fastnn as fn
        from fastnn import layers
        x = np.random.default_rng(0).standard_normal((300, 4)).astype(np.float32)
        m = fn.Sequential([layers.Dense(1)], input_shape=(4,))
        m.compile("sgd", "mse")
        m.fit(x, x[:, :1], epochs=2, batch_size=8, verbose=1)
    """)
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr.decode()
    out = run.stdout.decode()
    assert "\r" not in out
    lines = out.splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/2", "Epoch 2/2"]


def test_verbose_0_prints_nothing_and_2_one_line_per_epoch(tmp_path):
    x, y = _data()
    for verbose, expected in ((0, 0), (2, 3)):
        model = _model()
        out = FakeTerminal()  # even in a terminal: verbose 0 and 2 never draw a bar
        saved, sys.stdout = sys.stdout, out
        try:
            model.fit(x, y, epochs=3, batch_size=16, verbose=verbose)
            model.evaluate(x, y, verbose=verbose)
            model.predict(x, verbose=verbose)
        finally:
            sys.stdout = saved
        text = out.getvalue()
        assert "\r" not in text
        lines = text.splitlines()
        if verbose == 0:
            assert text == ""
        else:
            assert len(lines) == expected + 2
            assert [line.split(" - ")[0] for line in lines[:3]] == [
                "Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]


# --- the live bar, in-process (a StringIO that says it is a terminal) ---------------------------


@pytest.mark.parametrize("per_batch", [False, True], ids=["replayed", "step_by_step"])
def test_results_do_not_depend_on_verbose(monkeypatch, per_batch):
    # A tiny REFRESH makes every chunk of a replayed epoch one batch: the most calls.
    monkeypatch.setattr(progress, "REFRESH", 1e-6)
    runs = {}
    for name, verbose, out in (("v0", 0, io.StringIO()), ("v1 live", 1, FakeTerminal()),
                               ("v1 plain", 1, io.StringIO()), ("v2", 2, FakeTerminal())):
        h, model = _fit(verbose, out, per_batch)
        runs[name] = (h.history, model.get_weights(), out.getvalue())
    base_history, base_weights, _ = runs["v0"]
    for name, (history, weights, _) in runs.items():
        assert history == base_history, name
        assert all(np.array_equal(a, b) for a, b in zip(weights, base_weights)), name
    live = runs["v1 live"][2]
    assert live.count("\r") > 3 * 10 and "ETA" in live
    assert "\r" not in runs["v1 plain"][2] and "\r" not in runs["v2"][2]


def test_live_bar_replays_an_epoch_in_chunks(monkeypatch):
    monkeypatch.setattr(progress, "REFRESH", 1e-6)
    model = _model()
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)  # captured
    calls = []
    replay = model._captured.replay_batches

    def counted(*args, **kwargs):
        calls.append(args[5])  # batches
        return replay(*args, **kwargs)

    monkeypatch.setattr(model._captured, "replay_batches", counted)
    for verbose, out in ((0, io.StringIO()), (1, FakeTerminal())):
        calls.clear()
        saved, sys.stdout = sys.stdout, out
        try:
            model.fit(x, y, epochs=1, batch_size=16, verbose=verbose)
        finally:
            sys.stdout = saved
        # 600 samples: 37 full batches replayed, the last 8 rows one eager step
        assert sum(calls) == 37
        assert len(calls) == (1 if verbose == 0 else 37)


def test_chunks_grow_to_refresh_seconds():
    p = progress.Progress("fit", 1, steps=10_000, epochs=1, file=FakeTerminal())
    assert p.live
    p.begin(0)
    seen = []
    for first, count in p.chunks(3, 5000):
        seen.append((first, count))
    assert seen[0] == (3, 1) and seen[1][1] <= progress._GROWTH
    starts = [3] + [f + c for f, c in seen[:-1]]
    assert [f for f, _ in seen] == starts and sum(c for _, c in seen) == 5000
    # Without a live bar: the whole range in one call.
    quiet = progress.Progress("fit", 1, steps=10_000, epochs=1, file=io.StringIO())
    assert not quiet.live and list(quiet.chunks(3, 5000)) == [(3, 5000)]
    assert list(quiet.chunks(3, 0)) == []


def test_a_nan_loss_raises_the_same_with_a_live_bar(monkeypatch):
    monkeypatch.setattr(progress, "REFRESH", 1e-6)
    x, y = _data(n=592)  # full batches only: the first non-finite loss is found at the end
    x[100] = np.nan
    errors = []
    for verbose, out in ((0, io.StringIO()), (1, FakeTerminal())):
        model = _model()
        saved, sys.stdout = sys.stdout, out
        try:
            with pytest.raises(ValueError, match="NaN or infinite at step") as e:
                model.fit(x, y, epochs=1, batch_size=16, verbose=verbose, shuffle=False)
        finally:
            sys.stdout = saved
        errors.append(str(e.value))
        if verbose:
            assert "loss: nan" in out.getvalue()  # the bar showed it; fit raised at the end
    assert errors[0] == errors[1]


def test_without_tqdm_verbose_1_writes_plain_lines(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    progress._tqdm_class.cache_clear()
    out = FakeTerminal()
    try:
        _fit(1, out)
    finally:
        progress._tqdm_class.cache_clear()
    text = out.getvalue()
    assert "\r" not in text and len(text.splitlines()) == 3


# --- a real terminal: a child process on a pseudo-terminal --------------------------------------

CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    import fastnn as fn
    from fastnn import layers, progress

    progress.REFRESH = 0.001
    r = np.random.default_rng(0)
    x = r.standard_normal((4000, 16)).astype(np.float32)
    y = (x[:, :4].sum(axis=1) > 0).astype(np.int64) + (x[:, 4] > 1).astype(np.int64)

    class PerBatch(fn.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass

    def run(verbose, per_batch=False):
        fn.manual_seed(0)
        m = fn.Sequential([layers.Dense(64, activation="relu"), layers.Dense(3)],
                          input_shape=(16,))
        m.compile("adam", fn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
        h = m.fit(x, y, epochs=3, batch_size=16, verbose=verbose, validation_split=0.1,
                  callbacks=[PerBatch()] if per_batch else None)
        ev = m.evaluate(x, y, batch_size=16, verbose=verbose)
        pred = m.predict(x, batch_size=16, verbose=verbose)
        return {"history": h.history, "weights": [w.tolist() for w in m.get_weights()],
                "evaluate": ev, "predict": float(pred.sum())}

    results = {}
    for name, verbose, per_batch in (("v1", 1, False), ("v1 step", 1, True), ("v0", 0, False),
                                     ("v2", 2, False)):
        print(f"@@{name}@@", flush=True)
        results[name] = run(verbose, per_batch)
    print("@@end@@", flush=True)
    with open(sys.argv[1], "w") as f:
        json.dump(results, f)
""")


def _run_on_a_terminal(code, args, timeout=240):
    import fcntl
    import struct
    import termios
    import tty

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 150, 0, 0))
    tty.setraw(slave)  # no "\n" -> "\r\n" translation: every "\r" read is the program's
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("COLUMNS", None)
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdin=slave, stdout=slave,
                            stderr=subprocess.PIPE, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err.decode()
    return b"".join(chunks).decode("utf-8")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_live_bar_on_a_real_terminal(tmp_path):
    results_path = tmp_path / "results.json"
    out = _run_on_a_terminal(CHILD, [str(results_path)])
    sections = dict(re.findall(r"@@([^@]+)@@\n(.*?)(?=@@)", out, flags=re.S))
    for name in ("v1", "v1 step"):
        text = sections[name]
        updates = text.count("\r")
        assert updates >= 3 * 3, text  # at least a few redraws per epoch
        for epoch in (1, 2, 3):
            assert f"Epoch {epoch}/3\n" in text
        assert "ETA: " in text
        running = re.findall(r"\r[^\r\n]*ETA: [^\r\n]*? loss: ([0-9.]+)", text)
        assert len(set(running)) >= 2, text  # the running loss changes
        assert re.search(r"\r225/225 \|[^|]+\| \S+ \S+/step - loss: [0-9.]+ - accuracy: "
                         r"[0-9.]+ - val_loss: [0-9.]+ - val_accuracy: [0-9.]+\n", text), text
        # evaluate and predict: a bar each, completed
        assert re.search(r"\r250/250 \|[^|]+\| \S+ \S+/step - loss: [0-9.]+ - accuracy: "
                         r"[0-9.]+\n", text), text
        assert re.search(r"\r250/250 \|[^|]+\| \S+ \S+/step\n", text), text
    assert sections["v0"] == ""
    plain = sections["v2"].splitlines()
    assert "\r" not in sections["v2"] and len(plain) == 5
    assert [line.split(" - ")[0] for line in plain[:3]] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    results = json.loads(results_path.read_text())
    for name in ("v1", "v1 step", "v2"):
        assert results[name] == results["v0"], name


# --- History.plot -------------------------------------------------------------------------------


def test_history_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    h, _ = _fit(0, io.StringIO(), validation_freq=2)
    path = tmp_path / "curves.png"
    fig = h.plot(path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    lines = {line.get_label(): line.get_xdata().tolist() for line in fig.axes[0].lines}
    assert lines == {"training": [1, 2, 3], "validation": [2]}  # validation_freq=2
    only = h.plot(tmp_path / "loss.png", metrics="loss")
    assert len(only.axes) == 1
    with pytest.raises(ValueError, match="no history for"):
        h.plot(metrics=["auc"])


def test_history_plot_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'fastnn\[plot\]'"):
        fn.callbacks.History().plot("x.png")
