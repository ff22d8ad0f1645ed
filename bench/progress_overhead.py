"""What fit's live progress bar costs: fit with verbose=1 in a terminal vs verbose=0.

A live bar (verbose=1, stdout a terminal) makes fit replay each epoch in chunks of about
``fastnn.progress.REFRESH`` seconds instead of one C++ call, and read the device's running
totals and redraw between chunks. This times, on the dense seed models' shapes
(seed_models.py), fits of a few epochs of each model with:

  - v0:      verbose=0 (one replay call per epoch);
  - v1 tty:  verbose=1 with stdout a pseudo-terminal whose other end another process
             reads, as a terminal emulator would (the live bar, its chunks and redraws);
  - v1 file: verbose=1 with stdout a file (plain per-epoch lines, one call per epoch).

Each figure is the best of ``--repeats`` timings taken in rounds that alternate the modes
(the machine is shared: noise only ever slows a run down, so the best is the figure to
compare). On a busy shared machine the difference between two timings of the same code
(v0 and v1 file run the same path) is larger than the bar's cost, so the last columns
measure that cost directly, free of the noise: the time fit spends in the bar's own code
(fastnn.progress.Progress: drawing, reading the totals, sizing chunks) per fit, and as a
share of the v1 tty fit. The epoch sizes make an epoch last ~0.1-0.3 s, so a fit's first chunks (they start
at one batch and grow to ~REFRESH seconds) are part of what is timed.

  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=python python bench/progress_overhead.py
"""

from __future__ import annotations

import argparse
import os
import sys
import subprocess
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from seed_models import MODELS, data  # noqa: E402

# Samples per epoch: ~0.1-0.3 s per epoch at batch 64, under ~70 MB of data each.
SAMPLES = {"mnist_mlp": 20_000, "autoencoder": 20_000, "digits_mlp": 250_000,
           "binary_mlp": 1_000_000}


class BarClock:
    """Adds up the time spent inside Progress's methods (and its chunks generator's body,
    between the replays it yields)."""

    def __init__(self, progress):
        self.seconds = 0.0
        self.redraws = 0
        cls = progress.Progress
        refresh = cls._refresh

        def counted(*args, **kwargs):
            self.redraws += 1
            return refresh(*args, **kwargs)

        cls._refresh = counted
        for name in ("__init__", "begin", "advance", "end", "close"):
            setattr(cls, name, self._timed(getattr(cls, name)))
        chunks = cls.chunks
        clock = self

        def timed_chunks(self, *args, **kwargs):
            gen = chunks(self, *args, **kwargs)
            while True:
                t = time.perf_counter()
                try:
                    item = next(gen)
                except StopIteration:
                    clock.seconds += time.perf_counter() - t
                    return
                clock.seconds += time.perf_counter() - t
                yield item

        cls.chunks = timed_chunks

    def _timed(self, method):
        clock = self

        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                clock.seconds += time.perf_counter() - t
        return timed


class Terminal:
    """A pseudo-terminal as stdout, its output read by another process (``cat``: a thread
    of this process would compete for the GIL, which a terminal emulator does not)."""

    def __init__(self):
        import fcntl
        import struct
        import termios

        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
        self.file = os.fdopen(slave, "w", encoding="utf-8")
        self.reader = subprocess.Popen(["cat"], stdin=master, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        os.close(master)


def build(name):
    import fastnn as fn
    from fastnn import layers

    sizes, width, loss, _ = MODELS[name]
    fn.manual_seed(0)
    model = fn.Sequential([layers.Dense(o, activation=a) for _, o, a in sizes],
                          input_shape=(width,))
    loss_obj = {"binary": fn.losses.BinaryCrossentropy(from_logits=True),
                "sparse": fn.losses.SparseCategoricalCrossentropy(from_logits=True),
                "mse": "mse"}[loss]
    model.compile(optimizer=fn.optimizers.Adam(1e-3), loss=loss_obj)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="mnist_mlp,autoencoder,digits_mlp,binary_mlp")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()

    import fastnn.progress as progress

    term = Terminal()
    clock = BarClock(progress)
    log = open(os.devnull, "w")
    outputs = {"v0": None, "v1 tty": term.file, "v1 file": log}
    print(f"batch {args.batch}, {args.epochs} epochs per fit, best of {args.repeats} "
          f"(rounds alternate the modes); REFRESH {progress.REFRESH} s")
    print(f"{'model':12s} {'samples':>9s} {'v0 s':>8s} {'v1 tty s':>9s} {'v1 file s':>9s} "
          f"{'tty/v0':>7s} {'file/v0':>8s} {'redraws/s':>9s} {'bar ms/fit':>10s} {'bar %':>6s}")
    for name in args.models.split(","):
        model = build(name)
        x, y = data(name, SAMPLES[name])
        model.fit(x, y, batch_size=args.batch, epochs=1, verbose=0)  # capture, warm up
        saved, sys.stdout = sys.stdout, term.file
        try:  # the first bar of a process imports tqdm (~0.1 s, once): not timed
            model.fit(x, y, batch_size=args.batch, epochs=1, verbose=1)
        finally:
            sys.stdout = saved
        best = {mode: float("inf") for mode in outputs}
        rates, bar_share, bar_ms = [], [], []
        for _ in range(args.repeats):
            for mode, out in outputs.items():
                saved = sys.stdout
                if out is not None:
                    sys.stdout = out
                redraws = clock.redraws
                spent = clock.seconds
                try:
                    t = time.perf_counter()
                    model.fit(x, y, batch_size=args.batch, epochs=args.epochs,
                              verbose=0 if out is None else 1)
                    took = time.perf_counter() - t
                finally:
                    sys.stdout = saved
                best[mode] = min(best[mode], took)
                if mode == "v1 tty":
                    bar_ms.append((clock.seconds - spent) * 1e3)
                    bar_share.append((clock.seconds - spent) / took)
                    # the running redraws, plus each epoch's first and last
                    rates.append((clock.redraws - redraws + 2 * args.epochs) / took)
                time.sleep(0.25)  # the pool's workers stop polling between timings
        v0 = best["v0"]
        print(f"{name:12s} {SAMPLES[name]:9d} {v0:8.3f} {best['v1 tty']:9.3f} "
              f"{best['v1 file']:9.3f} {best['v1 tty'] / v0:7.3f} {best['v1 file'] / v0:8.3f} "
              f"{sum(rates) / len(rates):9.1f} {min(bar_ms):10.2f} "
              f"{100 * min(bar_share):5.2f}%", flush=True)


if __name__ == "__main__":
    main()
