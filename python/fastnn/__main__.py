"""``python -m fastnn demo`` trains a digits classifier; ``python -m fastnn info`` describes
the build."""

from __future__ import annotations

import argparse
import sys
import time



def demo(epochs: int = 30, batch_size: int = 32, seed: int = 0) -> float:
    """Trains Dense(64, relu) -> Dense(10, softmax) on the bundled digits with fit."""
    import fastnn as fn
    from fastnn import layers
    from fastnn.datasets import load_digits, train_test_split

    fn.manual_seed(seed)
    x, y = load_digits()
    x /= 16.0
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, seed=seed)
    print(f"8x8 digits: {len(x_train)} training and {len(x_test)} test images, 10 classes")

    model = fn.Sequential([
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ], input_shape=(64,))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.summary()
    start = time.perf_counter()
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0)
    elapsed = time.perf_counter() - start
    for epoch in sorted({0, *range(9, epochs, 10), epochs - 1}):
        print(f"epoch {epoch + 1:3d}  loss {history.history['loss'][epoch]:.4f}  "
              f"accuracy {history.history['accuracy'][epoch]:.4f}")
    loss, accuracy = model.evaluate(x_test, y_test)
    print(f"test accuracy {accuracy:.2%} (loss {loss:.4f})  |  "
          f"{epochs * len(x_train) / elapsed:,.0f} training samples/s with fit "
          f"(batch {batch_size}, {fn.get_num_threads()} threads)")
    return accuracy


def info() -> None:
    import fastnn as fn

    build = fn.info()
    print(f"fastnn {build['version']}")
    print(f"  compiler     gcc {build['compiler']}; kernels built for "
          f"{'this CPU (-march=native)' if build['native'] else 'any x86-64 CPU'}")
    if fn.cuda.is_available():
        names = ", ".join(f"cuda:{i} {fn.cuda.get_device_name(i)}"
                          for i in range(fn.cuda.device_count()))
        print(f"  CUDA         built; {names}")
    else:
        print(f"  CUDA         {'built' if build['cuda'] else 'not built'}; not available: "
              f"{fn.cuda.unavailable_reason()}")
    print(f"  BLAS         {build['blas']}")
    print(f"  BLAS kernel  {build['blas_core']}")
    print(f"  threads      {build['threads']} (one pool for every kernel; OpenBLAS runs "
          f"{build['blas_threads']}-threaded inside it)")


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
