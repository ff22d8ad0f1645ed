"""``python -m fastnn demo`` trains a digits classifier; ``python -m fastnn info`` describes
the build."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def demo(epochs: int = 30, batch_size: int = 32, seed: int = 0) -> float:
    import fastnn as fn
    from fastnn import layers, losses, optim
    from fastnn.datasets import load_digits, train_test_split

    fn.manual_seed(seed)
    x, y = load_digits()
    x /= 16.0
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, seed=seed)
    print(f"8x8 digits: {len(x_train)} training and {len(x_test)} test images, 10 classes")

    class DigitsMLP(fn.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(64, activation="relu", input_shape=(64,))
            self.out = layers.Dense(10)

        def forward(self, x):
            return self.out(self.hidden(x))

    model = DigitsMLP()
    loss_fn = losses.SparseCategoricalCrossentropy(from_logits=True)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)
    samples, train_time = 0, 0.0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x_train))
        xs, ys = x_train[order], y_train[order]
        start, total = time.perf_counter(), 0.0
        for i in range(0, len(xs), batch_size):
            out = model(xs[i:i + batch_size], training=True)
            loss = loss_fn(out, ys[i:i + batch_size])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(out)
        train_time += time.perf_counter() - start
        samples += len(xs)
        if epoch == 1 or epoch % 10 == 0 or epoch == epochs:
            print(f"epoch {epoch:3d}  loss {total / len(xs):.4f}")
    with fn.no_grad():
        predictions = np.asarray(model(x_test)).argmax(axis=1)
    accuracy = float((predictions == y_test).mean())
    print(f"test accuracy {accuracy:.2%}  |  {samples / train_time:,.0f} training samples/s "
          f"(batch {batch_size}, {fn.get_num_threads()} threads)")
    return accuracy


def info() -> None:
    import fastnn as fn

    build = fn.info()
    print(f"fastnn {build['version']}")
    print(f"  compiler     gcc {build['compiler']}")
    print(f"  CUDA backend {'built' if build['cuda'] else 'not built'}; "
          f"available: {fn.cuda.is_available()}")
    print(f"  BLAS         {build['blas']}")
    print(f"  BLAS kernel  {build['blas_core']}")
    print(f"  threads      {build['threads']} (fastnn loops and OpenBLAS share them; "
          f"OpenBLAS reports {build['blas_threads']})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fastnn")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="train an MLP on the bundled 8x8 digits")
    d.add_argument("--epochs", type=int, default=30)
    d.add_argument("--batch-size", type=int, default=32)
    d.add_argument("--seed", type=int, default=0)
    sub.add_parser("info", help="version, build options, BLAS and threads")
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(args.epochs, args.batch_size, args.seed)
    else:
        info()
    return 0


if __name__ == "__main__":
    sys.exit(main())
