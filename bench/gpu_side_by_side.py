"""GPU side by side: each seed model's training step on one GPU, fastnn against PyTorch eager
and the same PyTorch step captured by hand into a CUDA graph, at matching precision.

    python bench/gpu_side_by_side.py [--batches 64,1024] [--tf32] [--models ...]

fastnn runs the model of `seed_models.py` moved to the GPU (`model.to("cuda")`) two ways:
"fastnn" a PyTorch-style step (forward, loss, backward, Adam) captured once into a plan,
which replays as one CUDA graph, on one resident batch; "fit" `model.fit` over `--steps`
batches for one epoch (the dataset uploaded once, shuffled, each batch gathered on the GPU
and the step replayed as a graph, the loss summed there and read at the epoch's end).
PyTorch runs its `seed_models.py` twin. fp32 by default: TF32 is off for
PyTorch's matmuls and cuDNN convolutions (cuDNN's default uses TF32 for convolutions);
`--tf32` turns it on for both (fastnn: set_float32_matmul_precision("high")). Each framework
trains on one resident batch, so the figures are step rates, not data loading. Best of
`--repeats` timings of `--steps` steps, synchronised at both ends. Run by bench/gpu_check.sh.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed_models import MODELS, data, is_cnn, is_rnn, sequence_layer, torch_modules, torch_sequence_model  # noqa: E402


def best_rate(samples, run, sync, repeats):
    best = 0.0
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        run()
        sync()
        best = max(best, samples / (time.perf_counter() - t))
    return best


def fastnn_model(name):
    import fastnn as fn
    from fastnn import layers

    sizes, width, _, _ = MODELS[name]
    if is_rnn(name):
        return fn.Sequential([sequence_layer(layers, s) for s in sizes])
    if is_cnn(name):
        make = {"conv": lambda s: layers.Conv2D(s[1], s[2], padding=s[3], activation=s[4]),
                "pool": lambda s: layers.MaxPooling2D(s[1]), "relu": lambda s: layers.ReLU(),
                "flatten": lambda s: layers.Flatten(),
                "dense": lambda s: layers.Dense(s[1], activation=s[2])}
        return fn.Sequential([make[s[0]](s) for s in sizes], input_shape=width)
    return fn.Sequential([layers.Dense(o, activation=a) for _, o, a in sizes], input_shape=(width,))


def time_fastnn(name, batch, steps, repeats, device="cuda"):
    import fastnn as fn
    from fastnn import _C

    loss_kind = MODELS[name][2]
    fn.manual_seed(0)
    model = fastnn_model(name)
    x, y = data(name, batch)
    model(x[:1])  # builds the weights on the CPU, then everything moves
    model.to(device)
    loss_fn = {"binary": fn.losses.BinaryCrossentropy(from_logits=True),
               "sparse": fn.losses.SparseCategoricalCrossentropy(from_logits=True),
               "mse": fn.losses.MeanSquaredError()}[loss_kind]
    opt = fn.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = fn.tensor(x, device=device), fn.tensor(y, device=device)

    def step():
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(yt, model(xt, training=True))
        loss.backward()
        opt.step()
        return loss

    step()  # gradients and optimizer state exist before the capture
    plan = _C.Plan()
    plan.begin_capture()
    step()
    plan.end_capture(list(model.parameters()))
    if plan.refusal:
        raise RuntimeError(f"fastnn could not capture {name}'s step: {plan.refusal}")
    plan.replay()  # captures the CUDA graph

    def run():
        for _ in range(steps):
            plan.replay()

    sync = fn.cuda.synchronize if device != "cpu" else (lambda: None)
    return best_rate(batch * steps, run, sync, repeats)


def time_fit(name, batch, steps, repeats, device="cuda"):
    """samples/s of fit's epochs of `steps` batches (after one epoch that captures)."""
    import fastnn as fn

    loss_kind = MODELS[name][2]
    fn.manual_seed(0)
    model = fastnn_model(name)
    x, y = data(name, batch * steps)
    model(x[:1])
    model.to(device)
    model.compile(optimizer=fn.optim.Adam(model.parameters(), lr=1e-3),
                  loss={"binary": fn.losses.BinaryCrossentropy(from_logits=True),
                        "sparse": fn.losses.SparseCategoricalCrossentropy(from_logits=True),
                        "mse": fn.losses.MeanSquaredError()}[loss_kind])
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)  # captures, uploads nothing twice
    sync = fn.cuda.synchronize if device != "cpu" else (lambda: None)
    return best_rate(batch * steps, lambda: model.fit(x, y, batch_size=batch, epochs=1,
                                                      verbose=0), sync, repeats)


def time_torch(name, batch, steps, repeats, graphed):
    import torch
    import torch.nn as nn

    loss_kind = MODELS[name][2]
    torch.manual_seed(0)
    model = (torch_sequence_model(name, nn) if is_rnn(name)
             else nn.Sequential(*torch_modules(name, nn))).cuda()
    loss_fn = {"binary": nn.BCEWithLogitsLoss(), "sparse": nn.CrossEntropyLoss(),
               "mse": nn.MSELoss()}[loss_kind]
    x, y = data(name, batch)
    x = torch.tensor(x, device="cuda")
    if is_cnn(name):
        x = x.permute(0, 3, 1, 2).contiguous()
    y = x if loss_kind == "mse" else torch.tensor(y, device="cuda")
    # capturable: the step count stays on the GPU, as a graph replay needs.
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, capturable=graphed)

    def step():
        opt.zero_grad(set_to_none=False)
        loss_fn(model(x), y).backward()
        opt.step()

    if graphed:  # PyTorch's recipe: warm up on a side stream, capture, replay
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            step()
        run_step = graph.replay
    else:
        for _ in range(3):
            step()
        run_step = step

    def run():
        for _ in range(steps):
            run_step()

    return best_rate(batch * steps, run, torch.cuda.synchronize, repeats)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default="64,1024")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    args = ap.parse_args()

    import fastnn as fn
    import torch

    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    fn.set_float32_matmul_precision("high" if args.tf32 else "highest")
    print(f"{fn.cuda.get_device_name(0)} | torch {torch.__version__} | "
          f"{'TF32' if args.tf32 else 'fp32'} | best of {args.repeats} x {args.steps} steps")
    print(f"{'model':12s} {'batch':>6s} {'fastnn':>11s} {'fit':>11s} {'torch':>11s} "
          f"{'torch graph':>12s} {'x eager':>8s} {'x graph':>8s}   (samples/s; x: fastnn's)")
    results = {}
    for batch in (int(b) for b in args.batches.split(",")):
        for name in args.models.split(","):
            row = {}
            for key, timer in (("fastnn", lambda: time_fastnn(name, batch, args.steps, args.repeats)),
                               ("fit", lambda: time_fit(name, batch, args.steps, args.repeats)),
                               ("torch", lambda: time_torch(name, batch, args.steps, args.repeats, False)),
                               ("torch_graph", lambda: time_torch(name, batch, args.steps, args.repeats, True))):
                try:
                    row[key] = timer()
                except Exception as exc:  # noqa: BLE001 - report and go on to the next
                    print(f"  {key} failed on {name} at batch {batch}: {type(exc).__name__}: {exc}")
                    row[key] = float("nan")
            results[f"{name}@{batch}"] = row
            print(f"{name:12s} {batch:6d} {row['fastnn']:11.0f} {row['fit']:11.0f} {row['torch']:11.0f} "
                  f"{row['torch_graph']:12.0f} {row['fastnn'] / row['torch']:8.2f} "
                  f"{row['fastnn'] / row['torch_graph']:8.2f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
