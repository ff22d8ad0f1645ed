"""Side-by-side training throughput of the seed models: fastnn vs PyTorch vs Keras.

One run, one machine, ratios (see BENCHMARKS rules in bench/NOTES.md):
  - fastnn: ``model.fit`` (step captured once, replayed natively), timed like Keras's fit:
    one untimed fit, then one-epoch fits over ``steps`` batches.
  - PyTorch (CPU build, where installed): a bare step loop over one fixed batch
    (zero_grad, forward, loss, backward, Adam step). The CNNs run in NCHW, timed twice:
    contiguous and in torch.channels_last (model and input converted, PyTorch's advice for
    CPU convolutions); "torch" is the faster, both are printed after the row.
  - Keras 3 on JAX and on TensorFlow (each where installed), in a subprocess per backend
    (KERAS_BACKEND is read at import): fit as above, with steps_per_execution 1 (the default)
    and 20 (its fastest ordinary setting: 20 steps per dispatch); "keras" is the fastest of
    the four, "x keras" compares with it, and all four are printed after the row.
Each figure is the best of ``--repeats`` timings, taken in rounds that alternate the
frameworks: these machines are shared, noise from other tenants only ever slows a run down
(medians here moved by 2x between runs), and a noisy stretch then costs each framework one
sample instead of all of one framework's.
Also prints fastnn's effective GFLOP/s (forward FLOPs x 3) as a share of the machine's
sgemm rate (numpy's OpenBLAS on a 1024^3 problem, best of several).
fastnn and Keras take the CNNs' inputs channels-last, (N, H, W, C). A CNN step costs 10-100x
a dense one, so CNNs default to fewer steps per timing (DEFAULT_STEPS; --steps sets all).

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

# name: (layers, input shape, loss kind, classes). A dense model's layers are
# [(in, out, activation)] and its input shape the width (an int); a CNN's are layer specs
# (below) on a channels-last (H, W, C) input.
#   ("conv", filters, kernel, padding, activation) | ("pool", size) | ("relu",) | ("flatten",)
#   | ("dense", units, activation)
# A recurrent model's input is ("ids", timesteps, vocabulary): integer ids, its layers
# ("embedding", vocabulary, width), ("lstm", units) (the last state) and ("dense", ...).
MODELS = {
    "binary_mlp": ([(2, 32, "relu"), (32, 1, None)], 2, "binary", 2),
    "mnist_mlp": ([(784, 256, "relu"), (256, 10, None)], 784, "sparse", 10),
    "autoencoder": ([(784, 128, "relu"), (128, 32, "relu"), (32, 128, "relu"), (128, 784, "sigmoid")],
                    784, "mse", None),
    "digits_mlp": ([(64, 64, "relu"), (64, 10, None)], 64, "sparse", 10),
    "mnist_cnn": ([("conv", 32, 3, "valid", "relu"), ("pool", 2), ("conv", 64, 3, "valid", "relu"),
                   ("pool", 2), ("flatten",), ("dense", 64, "relu"), ("dense", 10, None)],
                  (28, 28, 1), "sparse", 10),
    "mnist_lenet": ([("conv", 10, 5, "valid", None), ("pool", 2), ("relu",), ("conv", 20, 5, "valid", None),
                     ("pool", 2), ("relu",), ("flatten",), ("dense", 50, "relu"), ("dense", 10, None)],
                    (28, 28, 1), "sparse", 10),
    "cifar_cnn": ([("conv", 64, 3, "same", "relu"), ("pool", 2), ("conv", 128, 3, "same", "relu"),
                   ("pool", 2), ("flatten",), ("dense", 512, "relu"), ("dense", 10, None)],
                  (32, 32, 3), "sparse", 10),
    "lstm_text": ([("embedding", 5000, 64), ("lstm", 128), ("dense", 2, None)],
                  ("ids", 50, 5000), "sparse", 2),
}

# Steps per timing at batch 64, so that the fastest framework's timing still takes ~1 s on
# the 2-core machine (fastnn measured ~5.2k, ~12k, ~0.74k samples/s on the three CNNs, Keras
# on JAX 2.5-4x slower: its timings take 3-5 s). Dense models: 200. Scaled by 64 / batch.
DEFAULT_STEPS = {"mnist_cnn": 90, "mnist_lenet": 200, "cifar_cnn": 20, "lstm_text": 20}


def is_rnn(name):
    shape = MODELS[name][1]
    return isinstance(shape, tuple) and shape[0] == "ids"


def is_cnn(name):
    return isinstance(MODELS[name][1], tuple) and not is_rnn(name)


def default_steps(name, batch):
    if name not in DEFAULT_STEPS:
        return 200
    return max(3, round(DEFAULT_STEPS[name] * 64 / batch))


def cnn_shapes(name):
    """Yield (spec, input shape, output shape) for each layer of a CNN, shapes per sample."""
    specs, shape = MODELS[name][0], MODELS[name][1]
    for spec in specs:
        kind = spec[0]
        if kind == "conv":
            _, f, k, pad, _ = spec
            h, w, _ = shape
            out = (h, w, f) if pad == "same" else (h - k + 1, w - k + 1, f)
        elif kind == "pool":
            out = (shape[0] // spec[1], shape[1] // spec[1], shape[2])
        elif kind == "flatten":
            out = (int(np.prod(shape)),)
        elif kind == "dense":
            out = (spec[1],)
        else:
            out = shape
        yield spec, shape, out
        shape = out


def data(name, n, seed=0):
    sizes, width, loss, classes = MODELS[name]
    r = np.random.default_rng(seed)
    if is_rnn(name):
        _, steps, vocabulary = width
        return r.integers(1, vocabulary, (n, steps)), r.integers(0, classes, n)
    shape = width if is_cnn(name) else (width,)
    if loss == "mse":
        x = r.random((n, *shape), dtype=np.float32)
        return x, x
    x = r.standard_normal((n, *shape), dtype=np.float32)
    y = r.integers(0, classes, n)
    return x, (y.astype(np.float32)[:, None] if loss == "binary" else y)


def forward_flops(name):
    if is_rnn(name):
        # Per sample and step, an LSTM's input and recurrent GEMMs: 2 * (F + U) * 4U.
        steps, total, width = MODELS[name][1][1], 0, None
        for spec in MODELS[name][0]:
            if spec[0] == "embedding":
                width = spec[2]
            elif spec[0] == "lstm":
                total += steps * 2 * (width + spec[1]) * 4 * spec[1]
                width = spec[1]
            else:
                total += 2 * width * spec[1]
                width = spec[1]
        return total
    if not is_cnn(name):
        return sum(2 * i * o for i, o, _ in MODELS[name][0])
    # Per sample: a conv 2 * OH * OW * KH * KW * C * F, a dense 2 * in * out; pooling and
    # the activations are a few ops per element, negligible beside them.
    total = 0
    for spec, inp, out in cnn_shapes(name):
        if spec[0] == "conv":
            total += 2 * out[0] * out[1] * spec[2] * spec[2] * inp[2] * spec[1]
        elif spec[0] == "dense":
            total += 2 * inp[0] * out[0]
    return total


def keras_layers(name, keras):
    """The model's layers in Keras 3 (also used by the Keras child process)."""
    L = keras.layers
    sizes, shape = MODELS[name][0], MODELS[name][1]
    if is_rnn(name):
        return [keras.Input((shape[1],), dtype="int32")] + [sequence_layer(L, s) for s in sizes]
    if not is_cnn(name):
        return [keras.Input((shape,))] + [L.Dense(o, a) for _, o, a in sizes]
    make = {"conv": lambda s: L.Conv2D(s[1], s[2], padding=s[3], activation=s[4]),
            "pool": lambda s: L.MaxPooling2D(s[1]), "relu": lambda s: L.ReLU(),
            "flatten": lambda s: L.Flatten(), "dense": lambda s: L.Dense(s[1], activation=s[2])}
    return [keras.Input(shape)] + [make[s[0]](s) for s in sizes]


def sequence_layer(layers, spec):
    """A recurrent model's layer in Keras's (or fastnn's: the same names) layers module."""
    if spec[0] == "embedding":
        return layers.Embedding(spec[1], spec[2])
    if spec[0] == "lstm":
        return layers.LSTM(spec[1])
    return layers.Dense(spec[1], activation=spec[2])


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
    if is_rnn(name):
        model = fn.Sequential([sequence_layer(layers, s) for s in sizes])
    elif is_cnn(name):
        make = {"conv": lambda s: layers.Conv2D(s[1], s[2], padding=s[3], activation=s[4]),
                "pool": lambda s: layers.MaxPooling2D(s[1]), "relu": lambda s: layers.ReLU(),
                "flatten": lambda s: layers.Flatten(),
                "dense": lambda s: layers.Dense(s[1], activation=s[2])}
        model = fn.Sequential([make[s[0]](s) for s in sizes], input_shape=width)
    else:
        model = fn.Sequential([layers.Dense(o, activation=a) for _, o, a in sizes],
                              input_shape=(width,))
    loss_obj = {"binary": fn.losses.BinaryCrossentropy(from_logits=True),
                "sparse": fn.losses.SparseCategoricalCrossentropy(from_logits=True),
                "mse": "mse"}[loss]
    model.compile(optimizer=fn.optimizers.Adam(1e-3), loss=loss_obj)
    x, y = data(name, batch * steps)
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    return lambda: timed(batch * steps, lambda: model.fit(x, y, batch_size=batch, epochs=1,
                                                          verbose=0, shuffle=True))


def torch_modules(name, nn):
    """The model as a list of torch.nn modules (NCHW for the CNNs)."""
    def act(a):
        return {"relu": [nn.ReLU()], "sigmoid": [nn.Sigmoid()], None: []}[a]

    if not is_cnn(name):
        return [m for i, o, a in MODELS[name][0] for m in [nn.Linear(i, o)] + act(a)]
    mods = []
    for spec, inp, out in cnn_shapes(name):
        kind = spec[0]
        if kind == "conv":
            mods += [nn.Conv2d(inp[2], spec[1], spec[2], padding=0 if spec[3] == "valid" else "same")]
            mods += act(spec[4])
        elif kind == "pool":
            mods.append(nn.MaxPool2d(spec[1]))
        elif kind == "relu":
            mods.append(nn.ReLU())
        elif kind == "flatten":
            mods.append(nn.Flatten())
        else:
            mods += [nn.Linear(inp[0], spec[1])] + act(spec[2])
    return mods


def torch_sequence_model(name, nn):
    """A recurrent model as a torch.nn.Module (batch-first, the last state to the head)."""
    class SequenceModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.mods = nn.ModuleList()
            width = None
            for spec in MODELS[name][0]:
                if spec[0] == "embedding":
                    self.mods.append(nn.Embedding(spec[1], spec[2]))
                    width = spec[2]
                elif spec[0] == "lstm":
                    self.mods.append(nn.LSTM(width, spec[1], batch_first=True))
                    width = spec[1]
                else:
                    self.mods.append(nn.Linear(width, spec[1]))
                    width = spec[1]

        def forward(self, x):
            for m in self.mods:
                x = m(x)
                if isinstance(m, nn.LSTM):
                    x = x[1][0][-1]  # (output, (h_n, c_n)) -> h_n of the last layer
            return x

    return SequenceModel()


def setup_torch(name, batch, steps, channels_last=False, torch=None):
    """PyTorch's step loop; with torch=fastnn, the same code run by fastnn.nn (NCHW CNNs,
    an eager loop: what a seed's PyTorch code does with its imports changed)."""
    if torch is None:
        import torch
    nn = torch.nn

    loss = MODELS[name][2]
    torch.manual_seed(0)
    model = (torch_sequence_model(name, nn) if is_rnn(name)
             else nn.Sequential(*torch_modules(name, nn)))
    loss_fn = {"binary": nn.BCEWithLogitsLoss(), "sparse": nn.CrossEntropyLoss(), "mse": nn.MSELoss()}[loss]
    x, y = data(name, batch)
    x = torch.from_numpy(x)
    if is_cnn(name):
        x = x.permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW
        if channels_last:
            # Same logical NCHW tensors, NHWC strides: oneDNN's preferred CPU layout.
            model = model.to(memory_format=torch.channels_last)
            x = x.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    y = x if loss == "mse" else torch.from_numpy(
        np.asarray(y, np.float32 if loss == "binary" else np.int64))  # BCE takes float targets

    def step():
        opt.zero_grad()  # set_to_none, the default, as the seeds call it
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(5):
        step()

    def run():
        for _ in range(steps):
            step()

    return lambda: timed(batch * steps, run)


# Keras in a child process per backend (KERAS_BACKEND is read at import): it builds and warms
# the model, then times one fit per line read from stdin.
KERAS_CHILD = r"""
import json, sys, numpy as np, keras
sys.path.insert(0, sys.argv[1])
from seed_models import MODELS, data, keras_layers, timed
name, batch, steps, spe = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
loss = MODELS[name][2]
keras.utils.set_random_seed(0)
m = keras.Sequential(keras_layers(name, keras))
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
    def __init__(self, name, batch, steps, steps_per_execution=1, backend="jax"):
        # TF_CPP_MIN_LOG_LEVEL: TensorFlow's start-up chatter on stderr is not an error.
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
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
    ap.add_argument("--steps", type=int, default=None,
                    help="steps per timing for every model (default: 200 for the dense models, "
                         "fewer for the CNNs, see DEFAULT_STEPS)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--no-keras", action="store_true")
    ap.add_argument("--keras-backends", default="jax,tensorflow",
                    help="Keras 3 backends to time, each where installed")
    ap.add_argument("--repeats", type=int, default=REPEATS)
    ap.add_argument("--torch-threads", type=int, default=None,
                    help="torch.set_num_threads (default: PyTorch's own, one per core)")
    args = ap.parse_args()
    names = args.models.split(",")
    steps_of = {n: args.steps or default_steps(n, args.batch) for n in names}
    if args.torch_threads is not None and available("torch"):
        import torch

        torch.set_num_threads(args.torch_threads)

    import fastnn as fn

    info = fn.info()
    peak = sgemm_rate()
    print(f"fastnn {info['version']} | OpenBLAS kernel {info['blas_core']} | {info['threads']} threads"
          f" | OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    # One step count for all (as the dense-only runs always printed), else each model's.
    counts = sorted(set(steps_of.values()))
    steps_text = (f"{counts[0]} steps" if len(counts) == 1 else
                  "steps " + ", ".join(f"{n} {steps_of[n]}" for n in names))
    print(f"machine sgemm (numpy, 1024^3): {peak:.0f} GFLOP/s | batch {args.batch}, {steps_text}"
          f" | best of {args.repeats}")
    have_torch = available("torch")
    keras_backends = [] if args.no_keras or not available("keras") else [
        b for b in args.keras_backends.split(",") if b and available(b)]
    keras_short = {"jax": "jax", "tensorflow": "tf"}
    header = (f"{'model':12s} {'fastnn':>10s} {'torch':>10s} {'keras':>10s} "
              f"{'x torch':>8s} {'x keras':>8s} {'GFLOP/s':>8s} {'% sgemm':>8s}")
    # fastnn.nn: PyTorch's code for the model with `import fastnn as torch` (NCHW, eager loop).
    print("(fastnn.nn: the PyTorch code run by fastnn, printed after the row with its ratio "
          "to fastnn's fit)")
    print(header)
    results = {}
    for name in names:
        steps = steps_of[name]
        runners = {"fastnn": setup_fastnn(name, args.batch, steps),
                   "fastnn_nn": setup_torch(name, args.batch, steps, torch=fn)}
        if have_torch:
            runners["torch"] = setup_torch(name, args.batch, steps)
            if is_cnn(name):
                runners["torch_cl"] = setup_torch(name, args.batch, steps, channels_last=True)
        keras_children = []
        for backend in keras_backends:
            for spe in (1, 20):
                key = f"keras_{keras_short.get(backend, backend)}" + ("_spe20" if spe == 20 else "")
                try:
                    keras_children.append(KerasChild(name, args.batch, steps, spe, backend))
                    runners[key] = keras_children[-1]
                except Exception as exc:  # noqa: BLE001 - report and go on
                    print(f"  keras/{backend} (steps_per_execution={spe}) failed on {name}: {exc}")
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
        torch_nchw = best.get("torch", float("nan"))
        torch_cl = best.get("torch_cl", float("nan"))
        torch_rate = max(torch_nchw, torch_cl) if "torch_cl" in best else torch_nchw
        keras_rates = {k: v for k, v in best.items() if k.startswith("keras_")}
        fastest_keras = max(keras_rates.values()) if keras_rates else float("nan")
        gflops = ours * forward_flops(name) * 3 / 1e9
        results[name] = dict(fastnn=ours, torch=torch_rate, keras=fastest_keras, **keras_rates,
                             gflops=gflops, share=gflops / peak, steps=steps)
        results[name]["fastnn_nn"] = best["fastnn_nn"]
        notes = [f"fastnn.nn {best['fastnn_nn']:.0f} = {best['fastnn_nn'] / ours:.2f}x fit"]
        if "torch_cl" in best:
            results[name].update(torch_nchw=torch_nchw, torch_channels_last=torch_cl)
            notes.append(f"torch nchw {torch_nchw:.0f}, channels_last {torch_cl:.0f}")
        if keras_rates:
            notes.append("keras " + ", ".join(f"{k[6:]} {v:.0f}" for k, v in keras_rates.items()))
        print(f"{name:12s} {ours:10.0f} {torch_rate:10.0f} {fastest_keras:10.0f} "
              f"{ours / torch_rate:8.2f} {ours / fastest_keras:8.2f} {gflops:8.1f} "
              f"{100 * gflops / peak:7.1f}%  ({'; '.join(notes + [f'{steps} steps'])})", flush=True)
    print(f"(sgemm ceiling used, best of every sample: {peak:.0f} GFLOP/s)")
    print(json.dumps({"batch": args.batch, "sgemm_gflops": peak, "samples_per_s": results}))


if __name__ == "__main__":
    main()
