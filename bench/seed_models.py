"""Side-by-side training throughput of the seed dense models: fastnn vs PyTorch vs Keras.

One run, one machine, ratios (see BENCHMARKS rules in bench/NOTES.md):
  - fastnn: ``model.fit`` (step captured once, replayed natively), timed like Keras's fit:
    one untimed fit, then one-epoch fits over ``steps`` batches.
  - PyTorch (CPU build, where installed): a bare step loop over one fixed batch
    (zero_grad, forward, loss, backward, Adam step).
  - Keras 3 on JAX (where installed), in a subprocess with KERAS_BACKEND=jax: fit as above,
    with steps_per_execution 1 (the default) and 20 (its fastest ordinary setting: JAX runs
    20 steps per dispatch); "x keras" compares with the faster of the two.
Each figure is the best of ``--repeats`` timings, taken in rounds that alternate the
frameworks: these machines are shared, noise from other tenants only ever slows a run down
(medians here moved by 2x between runs), and a noisy stretch then costs each framework one
sample instead of all of one framework's.
Also prints fastnn's effective GFLOP/s (forward FLOPs x 3) as a share of the machine's
sgemm rate (numpy's OpenBLAS on a 1024^3 problem, best of several).

Run with the machine-wide OpenBLAS pin lifted, in this command only:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/seed_models.py [--batch 64]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

# name: (dense layer sizes [(in, out, activation)], input width, loss kind, classes)
MODELS = {
    "binary_mlp": ([(2, 32, "relu"), (32, 1, None)], 2, "binary", 2),
    "mnist_mlp": ([(784, 256, "relu"), (256, 10, None)], 784, "sparse", 10),
    "autoencoder": ([(784, 128, "relu"), (128, 32, "relu"), (32, 128, "relu"), (128, 784, "sigmoid")],
                    784, "mse", None),
    "digits_mlp": ([(64, 64, "relu"), (64, 10, None)], 64, "sparse", 10),
}


def data(name, n, seed=0):
    sizes, width, loss, classes = MODELS[name]
    r = np.random.default_rng(seed)
    if loss == "mse":
        x = r.random((n, width), dtype=np.float32)
        return x, x
    x = r.standard_normal((n, width), dtype=np.float32)
    y = r.integers(0, classes, n)
    return x, (y.astype(np.float32)[:, None] if loss == "binary" else y)


def forward_flops(name):
    return sum(2 * i * o for i, o, _ in MODELS[name][0])


def sgemm_rate():
    a = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
    best = float("inf")
    for _ in range(8):
        t = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t)
    return 2 * 1024**3 / best / 1e9


REPEATS = 5


# Each framework's setup returns a function that times one run and returns samples/s. main()
# calls them in rounds (fastnn, torch, keras, fastnn, ...) and keeps each one's best, so a
# burst of noise from another tenant slows one sample of each rather than every sample of one.

def timed(samples, run):
    t = time.perf_counter()
    run()
    return samples / (time.perf_counter() - t)


def setup_fastnn(name, batch, steps):
    import fastnn as fn
    from fastnn import layers

    sizes, width, loss, _ = MODELS[name]
    fn.manual_seed(0)
    model = fn.Sequential([layers.Dense(o, activation=a) for _, o, a in sizes], input_shape=(width,))
    loss_obj = {"binary": fn.losses.BinaryCrossentropy(from_logits=True),
                "sparse": fn.losses.SparseCategoricalCrossentropy(from_logits=True),
                "mse": "mse"}[loss]
    model.compile(optimizer=fn.optimizers.Adam(1e-3), loss=loss_obj)
    x, y = data(name, batch * steps)
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    return lambda: timed(batch * steps, lambda: model.fit(x, y, batch_size=batch, epochs=1,
                                                          verbose=0, shuffle=True))


def setup_torch(name, batch, steps):
    import torch
    import torch.nn as nn

    sizes, width, loss, _ = MODELS[name]
    torch.manual_seed(0)
    mods = []
    for i, o, a in sizes:
        mods.append(nn.Linear(i, o))
        if a == "relu":
            mods.append(nn.ReLU())
        elif a == "sigmoid":
            mods.append(nn.Sigmoid())
    model = nn.Sequential(*mods)
    loss_fn = {"binary": nn.BCEWithLogitsLoss(), "sparse": nn.CrossEntropyLoss(), "mse": nn.MSELoss()}[loss]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = data(name, batch)
    x = torch.tensor(x)
    y = x if loss == "mse" else torch.tensor(y)

    def step():
        opt.zero_grad(set_to_none=False)
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(5):
        step()

    def run():
        for _ in range(steps):
            step()

    return lambda: timed(batch * steps, run)


# Keras on JAX in a child process (KERAS_BACKEND is read at import): it builds and warms the
# model, then times one fit per line read from stdin.
KERAS_CHILD = r"""
import json, sys, numpy as np, keras
from keras import layers as L
sys.path.insert(0, sys.argv[1])
from seed_models import MODELS, data, timed
name, batch, steps, spe = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
sizes, width, loss, _ = MODELS[name]
keras.utils.set_random_seed(0)
m = keras.Sequential([keras.Input((width,))] + [L.Dense(o, a) for _, o, a in sizes])
loss_obj = {"binary": keras.losses.BinaryCrossentropy(from_logits=True),
            "sparse": keras.losses.SparseCategoricalCrossentropy(from_logits=True), "mse": "mse"}[loss]
m.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss_obj, steps_per_execution=spe)
x, y = data(name, batch * steps)
m.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
print("ready", flush=True)
for line in sys.stdin:
    rate = timed(batch * steps, lambda: m.fit(x, y, batch_size=batch, epochs=1, verbose=0,
                                              shuffle=True))
    print(json.dumps(rate), flush=True)
"""


class KerasChild:
    def __init__(self, name, batch, steps, steps_per_execution=1):
        env = dict(os.environ, KERAS_BACKEND="jax")
        here = os.path.dirname(os.path.abspath(__file__))
        self.proc = subprocess.Popen([sys.executable, "-c", KERAS_CHILD, here, name, str(batch),
                                      str(steps), str(steps_per_execution)], env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._read()  # "ready"

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read().strip().splitlines()
            raise RuntimeError(err[-1] if err else "the Keras process exited")
        return line

    def __call__(self):
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return json.loads(self._read())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def available(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--no-keras", action="store_true")
    ap.add_argument("--repeats", type=int, default=REPEATS)
    args = ap.parse_args()

    import fastnn as fn

    info = fn.info()
    peak = sgemm_rate()
    print(f"fastnn {info['version']} | OpenBLAS kernel {info['blas_core']} | {info['threads']} threads"
          f" | OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"machine sgemm (numpy, 1024^3): {peak:.0f} GFLOP/s | batch {args.batch}, {args.steps} steps"
          f" | best of {args.repeats}")
    have_torch = available("torch")
    have_keras = not args.no_keras and available("keras") and available("jax")
    header = (f"{'model':12s} {'fastnn':>10s} {'torch':>10s} {'keras/jax':>10s} {'spe=20':>10s} "
              f"{'x torch':>8s} {'x keras':>8s} {'GFLOP/s':>8s} {'% sgemm':>8s}")
    print(header)
    results = {}
    for name in args.models.split(","):
        steps = args.steps
        runners = {"fastnn": setup_fastnn(name, args.batch, steps)}
        if have_torch:
            runners["torch"] = setup_torch(name, args.batch, steps)
        keras_children = []
        if have_keras:
            for key, spe in (("keras_jax", 1), ("keras_jax_spe20", 20)):
                try:
                    keras_children.append(KerasChild(name, args.batch, steps, spe))
                    runners[key] = keras_children[-1]
                except Exception as exc:  # noqa: BLE001 - report and go on
                    print(f"  keras/jax (steps_per_execution={spe}) failed on {name}: {exc}")
        best = {k: 0.0 for k in runners}
        for _ in range(args.repeats):
            for k, run in runners.items():
                # Let the previous framework's threads stop spinning (OpenMP's, XLA's and
                # fastnn's pools poll for a while after their last work) before timing the next.
                time.sleep(0.25)
                best[k] = max(best[k], run())
        for child in keras_children:
            child.close()
        # The ceiling gets a sample per model too: one noisy moment at the start would
        # otherwise inflate every share below.
        peak = max(peak, sgemm_rate())
        ours = best["fastnn"]
        torch_rate = best.get("torch", float("nan"))
        keras_rate = best.get("keras_jax", float("nan"))
        keras_spe20 = best.get("keras_jax_spe20", float("nan"))
        fastest_keras = max(keras_rate, keras_spe20) if keras_children else float("nan")
        gflops = ours * forward_flops(name) * 3 / 1e9
        results[name] = dict(fastnn=ours, torch=torch_rate, keras_jax=keras_rate,
                             keras_jax_spe20=keras_spe20, gflops=gflops, share=gflops / peak)
        print(f"{name:12s} {ours:10.0f} {torch_rate:10.0f} {keras_rate:10.0f} {keras_spe20:10.0f} "
              f"{ours / torch_rate:8.2f} {ours / fastest_keras:8.2f} {gflops:8.1f} "
              f"{100 * gflops / peak:7.1f}%", flush=True)
    print(f"(sgemm ceiling used, best of every sample: {peak:.0f} GFLOP/s)")
    print(json.dumps({"batch": args.batch, "sgemm_gflops": peak, "samples_per_s": results}))


if __name__ == "__main__":
    main()
