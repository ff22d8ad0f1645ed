"""What fit / evaluate / predict print (Keras's ``verbose``), and History's plot.

``verbose=1`` in a terminal (or a Jupyter output cell) shows a live tqdm bar per epoch, as
Keras does::

    Epoch 1/10
    1563/1875 |████████████████▋   | ETA: 00:01 - loss: 0.3521 - accuracy: 0.8967

and closes it with the epoch's line: ``1875/1875 |████████████████████| 5.1s 3ms/step -
loss: ... - val_loss: ...``. Written anywhere else (a log file, a pipe, CI, pytest's
capture), ``verbose=1`` writes plain lines — one per epoch, never a carriage return — as
``verbose=2`` always does; ``verbose=0`` writes nothing. evaluate and predict show the same
bar with ``verbose=1`` and one line otherwise.

How the bar gets its values without slowing fit: the loss and the accuracies accumulate on
the device (compiled_metrics._Accumulator) and reading them is a host read, so the bar reads them at
most every ``REFRESH`` seconds. An epoch that fit replays in C++ (``Plan::replay_batches``,
no Python between steps) is replayed in consecutive chunks of batches, each sized from the
measured time per batch to last about ``REFRESH`` seconds; between two chunks the bar reads
the running totals and redraws. The chunks run the same batches in the same order into the
same totals as one call would, so results are identical whatever ``verbose`` is; only the
live bar chunks, so verbose 0 and 2 and plain-line output keep the one-call epoch.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import time

REFRESH = 0.1
"""Seconds between two updates of a live bar; a replayed epoch runs in chunks this long."""

_GROWTH = 16  # a chunk is at most this many times the previous one (the first is 1 batch)


def _format_time(seconds):
    return f"{seconds:.1f}s" if seconds >= 0.1 else f"{seconds * 1000:.0f}ms"


def _format_logs(logs):
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


def _format_per_step(seconds):
    if seconds >= 1:
        return f"{seconds:.1f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def interactive(file):
    """Whether ``file`` shows carriage-return updates: a terminal or a Jupyter cell."""
    try:
        if file.isatty():
            return True
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed file
        return False
    return type(file).__module__.split(".")[0] == "ipykernel"


@functools.lru_cache(maxsize=None)
def _tqdm_class():
    """A tqdm subclass for Keras-like bars, or None when tqdm is not installed (plain lines
    then, as for a file)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None

    class Bar(tqdm):
        monitor_interval = 0  # fit throttles the updates itself: no monitor thread
        text = ""             # the running logs, shown after the bar
        final = False         # the epoch's line: not cut to the terminal's width

        @property
        def format_dict(self):
            d = super().format_dict
            d["text"] = self.text
            d["ncols"] = None if self.final else _columns(self.fp)
            return d

        def __del__(self):
            # A bar left open by an exception (Ctrl-C in fit) stays as it was drawn; tqdm's
            # default would redraw it whenever the traceback is freed, in later output.
            self.disable = True

    return Bar


def _columns(file):
    try:
        columns = os.get_terminal_size(file.fileno()).columns
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns if columns > 0 else shutil.get_terminal_size().columns


class Progress:
    """The output of one fit, evaluate or predict call.

    ``kind``: "fit", "evaluate" or "predict"; ``steps``: batches per pass (None when
    unknown). The loops call ``begin`` (per epoch), ``advance(n, acc)`` after batches,
    ``chunks`` for a replayed run of batches, and ``end(logs, elapsed)``. Everything but
    ``end`` costs nothing unless a live bar is shown (``live``).
    """

    def __init__(self, kind, verbose, steps=None, epochs=None, file=None):
        self.kind, self.verbose, self.steps, self.epochs = kind, verbose, steps, epochs
        self.file = sys.stdout if file is None else file
        self._bar_class = (_tqdm_class() if verbose == 1 and interactive(self.file)
                           else None)
        self.live = self._bar_class is not None
        self._bar = None
        self._pending = 0
        self._shown = 0.0
        self._per_step = None  # measured seconds per replayed batch, kept across epochs
        self._chunk = 0

    # --- a pass (an epoch, or the whole evaluate / predict) ---------------------------------

    def begin(self, epoch=None):
        if self.kind == "fit" and self.live:
            print(f"Epoch {epoch + 1}/{self.epochs}", file=self.file, flush=True)
        if not self.live:
            return
        known = bool(self.steps)
        fmt = ("{n_fmt}/{total_fmt} |{bar:20}| ETA: {remaining}{text}" if known
               else "{n_fmt} steps - {elapsed}{text}")
        self._bar = self._bar_class(total=self.steps if known else None, file=self.file,
                                    bar_format=fmt, position=0, leave=True, mininterval=0,
                                    miniters=1, smoothing=0.3, dynamic_ncols=False)
        self._pending = 0
        self._shown = time.perf_counter()

    def advance(self, n=1, acc=None, force=False):
        """``n`` more batches done; redraws (reading ``acc``'s running values) at most every
        REFRESH seconds."""
        if self._bar is None:
            return
        self._pending += n
        now = time.perf_counter()
        if force or now - self._shown >= REFRESH:
            self._refresh(acc, now)

    def _refresh(self, acc, now):
        if acc is not None:
            # check=False: a NaN shows as nan; fit raises at the epoch's end as without a bar
            self._bar.text = " - " + _format_logs(acc.result(check=False))
        self._bar.update(self._pending)
        self._pending = 0
        self._shown = now

    def chunks(self, first, count, acc=None):
        """Yields ``(first, k)`` sub-ranges of the batches ``first .. first + count - 1`` for
        the caller to replay in one call each (then counting them into ``acc``): the whole
        range at once without a live bar, else chunks of about REFRESH seconds, with the bar
        redrawn between them."""
        if self._bar is None:
            if count:
                yield first, count
            return
        end = first + count
        while first < end:
            if self._per_step is None:
                want = 1
            else:
                want = max(1, min(int(REFRESH / self._per_step), self._chunk * _GROWTH))
            k = min(want, end - first)
            start = time.perf_counter()
            yield first, k
            now = time.perf_counter()
            self._per_step, self._chunk = max(now - start, 1e-9) / k, want
            first += k
            self.advance(k, acc, force=now - start >= REFRESH / 2)

    def close(self):
        """Ends a live bar where it stands (a pass that ran no batch)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def end(self, logs=None, elapsed=0.0, epoch=None):
        """The pass's last line: the bar completed with ``logs``, or a plain line."""
        logs = logs or {}
        steps_done = None
        if self._bar is not None:
            bar, self._bar = self._bar, None
            bar.n += self._pending  # drawn once, below, with the final logs
            self._pending = 0
            steps_done = bar.n
            parts = [_format_time(elapsed)]
            if steps_done:
                parts[0] += " " + _format_per_step(elapsed / steps_done)
            if logs:
                parts.append(_format_logs(logs))
            bar.bar_format = ("{n_fmt}/{total_fmt} |{bar:20}| {text}" if bar.total
                              else "{n_fmt} steps - {text}")
            bar.text = " - ".join(parts)
            bar.final = True
            bar.close()
            return
        if not self.verbose:
            return
        if self.kind == "fit":
            line = f"Epoch {epoch + 1}/{self.epochs} - {_format_time(elapsed)}"
            if logs:
                line += " - " + _format_logs(logs)
        elif self.kind == "evaluate":
            line = _format_logs(logs)
        else:
            line = f"{self.steps}/{self.steps} - " if self.steps else ""
            line += _format_time(elapsed)
        print(line, file=self.file, flush=True)


# --- History.plot ------------------------------------------------------------------------------


def plot_history(history, path=None, metrics=None):
    """History.plot: one panel per metric (the loss first), training and validation curves
    against the epoch; saved to ``path`` (PNG, or any format matplotlib infers from the
    extension) when given. Returns the matplotlib Figure."""
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("History.plot needs matplotlib, which is not installed: "
                          "pip install 'fastnn[plot]' (or pip install matplotlib)") from e
    logs = history.history
    names = []
    for key in logs:
        name = key[4:] if key.startswith("val_") else key
        if name not in names:
            names.append(name)
    if metrics is not None:
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        unknown = [m for m in metrics if m not in names]
        if unknown:
            raise ValueError(f"History.plot: no history for {unknown}; recorded: {names}")
        names = metrics
    if not names:
        raise ValueError("History.plot: the history is empty (fit ran no epoch)")
    fig = Figure(figsize=(4.5 * len(names), 3.5), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        for key, label, style in ((name, "training", "-"), ("val_" + name, "validation", "--")):
            values = logs.get(key)
            if values:
                ax.plot(_epochs_of(history, key, len(values)), values, style, marker=".",
                        label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.legend()
    if path is not None:
        fig.savefig(os.fspath(path))
    return fig


def _epochs_of(history, key, count):
    """The (1-based) epochs at which ``key`` was logged (validation_freq > 1 logs val_*
    less often)."""
    epochs = getattr(history, "epochs_of", {}).get(key)
    if epochs is None or len(epochs) != count:
        epochs = history.epoch if len(history.epoch) == count else range(count)
    return [e + 1 for e in epochs]
