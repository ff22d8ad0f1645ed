"""``model.summary()``: Keras's table of layers, output shapes and parameter counts."""

from __future__ import annotations

import numpy as np

from .tensor import no_grad


def _shape_str(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (
        ",)" if len(shape) == 1 else ")")


def _human_bytes(n):
    units = ["B", "KB", "MB", "GB", "TB"]
    value, unit = float(n), 0
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    return f"{value:.2f} {units[unit]}"


def last_output_shapes(model):
    """Each top-level layer's output shape, from the input it last saw (None: unknown)."""
    shapes = []
    for layer in model.layers:
        last = getattr(layer, "_last_input", None)
        if last is None or not layer.built:
            shapes.append(None)
            continue
        saved = (layer._last_input, layer._last_training)
        try:
            with no_grad():
                shape = tuple(layer.compute_output_shape((None,) + tuple(last.shape[1:])))
            shapes.append((None,) + shape[1:])
        except Exception:  # noqa: BLE001 - a summary never fails on one layer
            shapes.append(None)
        finally:
            layer._last_input, layer._last_training = saved
    return shapes

def print_summary(model, line_length=None, print_fn=None, show_trainable=False):
    """Prints a Keras-like table: Layer (type), Output Shape, Param #, and the totals."""
    layers = model.layers
    shapes = model._summary_output_shapes()  # Sequential infers them from its input shape
    # A functional model adds Keras's "Connected to" column: each layer's inputs.
    connected = model._summary_connections()
    rows = []
    for i, (layer, shape) in enumerate(zip(layers, shapes)):
        built = layer.built
        params = f"{layer.count_params():,}" if built else "0 (unbuilt)"
        row = [f"{layer.name} ({type(layer).__name__})",
               "?" if shape is None else shape if isinstance(shape, str) else _shape_str(shape),
               params]
        if connected is not None:
            row.append(connected[i])
        if show_trainable:
            row.append("Y" if layer.trainable else "N")
        rows.append(row)
    header = ["Layer (type)", "Output Shape", "Param #"]
    header += ["Connected to"] if connected is not None else []
    header += ["Trainable"] if show_trainable else []
    # Keras's column layout (positions .45, .85, 1.0 of 65 characters), widened to fit.
    defaults = ([29, 26, 10] + ([20] if connected is not None else [])
                + ([10] if show_trainable else []))
    widths = [max([defaults[i], len(header[i]) + 3] + [len(r[i]) + 3 for r in rows])
              for i in range(len(header))]
    total_width = max(line_length or 0, sum(widths))
    widths[-1] += total_width - sum(widths)

    def line(cells):
        return "".join((" " + c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    weights = model.weights
    itemsize = {"float32": 4, "float64": 8}
    total = sum(int(np.prod(w.shape)) for w in weights)
    total_bytes = sum(int(np.prod(w.shape)) * itemsize.get(w.dtype, 4) for w in weights)
    trainable_ids = {id(w) for w in model.trainable_weights}
    trainable = sum(int(np.prod(w.shape)) for w in weights if id(w) in trainable_ids)
    trainable_bytes = sum(int(np.prod(w.shape)) * itemsize.get(w.dtype, 4)
                          for w in weights if id(w) in trainable_ids)
    text = [f'Model: "{model.name}"', "_" * total_width, line(header), "=" * total_width]
    for i, row in enumerate(rows):
        text.append(line(row))
        text.append("_" * total_width if i < len(rows) - 1 else "=" * total_width)
    if not rows:
        text.append("=" * total_width)
    text += [f"Total params: {total:,} ({_human_bytes(total_bytes)})",
             f"Trainable params: {trainable:,} ({_human_bytes(trainable_bytes)})",
             f"Non-trainable params: {total - trainable:,} "
             f"({_human_bytes(total_bytes - trainable_bytes)})",
             "_" * total_width]
    emit = print_fn or print
    for t in text:
        emit(t)
