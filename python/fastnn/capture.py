"""Step capture for fit/evaluate/predict.

The first step for an input signature (shapes and dtypes) runs eagerly while a
``fastnn._C.Plan`` records every kernel it launches, with its buffers: forward, loss,
regularization terms, backward and the optimizer update. What changes between steps is read
by the kernels from tensors — the batch (the plan's input buffers), the random generator's
position, the optimizer's config and step counts — so later steps copy the batch into the
captured input buffers and replay the plan in C++: no Python per op, no autograd
bookkeeping, no allocation, and results bitwise identical to running the steps eagerly.

A step the plan could not replay (it reads a tensor on the host — ``.item()``, a numpy
metric inside the loss, Python branching on values — or makes a tensor from numpy data) is
noticed while capturing: that kind of step then runs eagerly, and the model warns once.
Plans are dropped when the model's structure or training state changes (``validate``).
"""

from __future__ import annotations

import numpy as np

from . import _C


class Rows:
    """Rows ``index`` of ``array``, gathered only when needed: straight into a captured
    plan's input buffer on replay (one copy, no allocation), or into a new array.

    ``array`` is a numpy array, or a tensor on a device (fit's dataset uploaded once): its
    rows are then gathered on that device, and only the indices travel."""

    __slots__ = ("array", "index", "_value")

    def __init__(self, array, index):
        self.array, self.index, self._value = array, index, None

    @property
    def shape(self):
        return (len(self.index),) + tuple(self.array.shape[1:])

    @property
    def dtype(self):
        return np.dtype(self.array.dtype)  # a tensor's dtype name, or numpy's own

    @property
    def on_device(self):
        return isinstance(self.array, _C.Tensor)

    def __len__(self):
        return len(self.index)

    def tensor(self):
        """The rows as a tensor on the array's device (gathered there once)."""
        if not self.on_device:
            return _C.from_numpy(np.asarray(self))
        if self._value is None:
            out = _C.empty(self.shape, self.array.dtype, self.array.device)
            _C.gather_rows_into(self.array, self.index, out)
            self._value = out
        return self._value

    def __array__(self, dtype=None, copy=None):
        if self.on_device:  # a device batch read on the host (a metric numpy computes)
            value = self.tensor().numpy()
            return value if dtype is None else value.astype(dtype, copy=False)
        if self._value is None:
            self._value = np.take(self.array, self.index, axis=0)
        return self._value if dtype is None else self._value.astype(dtype, copy=False)

    def take_into(self, out):
        """Gathers the rows into ``out``: a host array (numpy), or a tensor on the
        array's device."""
        if self.on_device:
            _C.gather_rows_into(self.array, self.index, out)
        else:
            # The indices are in range by construction; mode="raise" would make numpy
            # gather into a temporary and copy (3x slower).
            np.take(self.array, self.index, axis=0, out=out, mode="clip")
        self._value = out


def _aliases(inputs):
    """For each input, the position of the first input holding the same data (itself if
    none): an autoencoder's fit(x, x) gathers its batch once and the plan reads one buffer
    as both the input and the target."""
    def same(a, b):
        if isinstance(a, Rows) and isinstance(b, Rows):
            return a.array is b.array and a.index is b.index
        return a is b and a is not None
    return tuple(next(j for j in range(i + 1) if same(inputs[j], a)) if a is not None else i
                 for i, a in enumerate(inputs))


def _signature(a):
    return None if a is None else (tuple(a.shape), np.dtype(a.dtype).str)


def _slot(a, device):
    """A captured plan's input buffer for the batch ``a`` (an array, Rows or a tensor), on
    the model's device, holding the batch."""
    if device == "cpu" and not isinstance(a, _C.Tensor):
        return _C.Tensor(np.asarray(a), np.dtype(a.dtype).name)
    slot = _C.empty(tuple(a.shape), np.dtype(a.dtype).name, device)
    _fill(slot, a)
    return slot


def _fill(slot, a):
    """Copies the batch ``a`` into a plan's input buffer: a numpy view of a CPU buffer, or
    a device tensor (device batches are gathered there; host arrays are uploaded)."""
    if isinstance(a, Rows):
        a.take_into(slot)
    elif isinstance(slot, np.ndarray):
        np.copyto(slot, a)
    elif isinstance(a, _C.Tensor):
        slot.copy_(a)
    else:
        _C.upload_into(np.asarray(a), slot)


class _Entry:
    __slots__ = ("plan", "slots", "views", "outputs")

    def __init__(self, plan, slots, aliases, outputs):
        self.plan = plan
        self.slots = slots
        # The buffers a replay fills, one per distinct input: numpy views of CPU buffers
        # (filled without a call into C++), device buffers as they are.
        self.views = [None if s is None or aliases[i] != i
                      else np.asarray(s) if s.device == "cpu" else s
                      for i, s in enumerate(slots)]
        self.outputs = outputs


class StepCapture:
    """Plans by (step kind, input signature) for one model; cleared by ``compile`` and
    whenever ``validate`` sees a different structure."""

    def __init__(self):
        self._entries: dict = {}
        self._structure = None
        self.refused: dict = {}  # step kind -> why its plan could not be replayed

    def clear(self):
        self._entries.clear()
        self.refused.clear()

    def validate(self, structure):
        """Drops every plan when ``structure`` (what the plans were recorded against: the
        weights, which are trainable, the optimizer, the loss) differs from last time."""
        if structure != self._structure:
            self.clear()
            self._structure = structure

    def __len__(self):
        return len(self._entries)

    def replayable(self, kind):
        return kind not in self.refused

    def run(self, kind, step, inputs, params=tuple, before_replay=None, ready=bool,
            on_refusal=None, device="cpu"):
        """``step(*inputs)`` (numpy arrays or Rows in, tensors out) captured on first use of this signature, replayed after.

        ``params()``: the tensors whose gradients the step writes (re-attached before each
        replay). ``before_replay``: Python work the step does outside its kernels (the
        optimizer's learning rate and step count). ``ready()`` False runs the step eagerly,
        uncaptured (a model that still has to create its weights). Both are called only when
        a plan is about to be captured, so replays pay nothing for them. A step the plan
        cannot replay has still run (eagerly, while recording): its outputs are returned,
        ``on_refusal(kind, reason)`` is called, and later steps of this kind are not captured.
        ``device``: the model's, where the plan's input buffers are made.
        """
        aliases = _aliases(inputs)
        key = (kind, aliases) + tuple(_signature(a) for a in inputs)
        entry = self._entries.get(key)
        if entry is None:
            if not ready():
                return step(*inputs)
            slots = []
            for i, a in enumerate(inputs):
                slots.append(slots[aliases[i]] if aliases[i] != i
                             else None if a is None else _slot(a, device))
            slots = tuple(slots)
            plan = _C.Plan()
            plan.begin_capture()
            try:
                outputs = step(*slots)
            except BaseException:
                plan.abort_capture()
                raise
            plan.end_capture(list(params()))
            if plan.refusal:
                self.refused[kind] = plan.refusal
                if on_refusal is not None:
                    on_refusal(kind, plan.refusal)
                return outputs
            self._entries[key] = _Entry(plan, slots, aliases, outputs)
            return outputs
        for view, a in zip(entry.views, inputs):
            if view is not None:  # None: no input, or one filled through its alias
                _fill(view, a)
        if before_replay is not None:
            before_replay()
        entry.plan.replay()
        return entry.outputs

    def outputs_for_rows(self, kind, arrays, rows):
        """The outputs of the plan captured for batches of ``rows`` rows of ``arrays``, or
        None (none yet, or the step ran eagerly while the model was building its weights)."""
        entry = self._entries.get(self._key_for_rows(kind, arrays, rows))
        return None if entry is None else entry.outputs

    @staticmethod
    def _key_for_rows(kind, arrays, rows):
        return (kind, _aliases(arrays)) + tuple((((rows,) + tuple(a.shape[1:])),
                                                 np.dtype(a.dtype).str) for a in arrays)

    def replay_batches(self, kind, arrays, order, rows, first, batches, totals, metrics=(),
                       losses=()):
        """Replays the plan captured for batches of ``rows`` rows of ``arrays`` (the sources
        of the step's inputs, in order) ``batches`` times in one C++ call; batch k takes the
        rows ``order[first + k * rows:first + (k + 1) * rows]``. The loss (the step's first
        output) accumulates into ``totals`` and each of ``metrics`` — (name, threshold,
        total) accuracy kernels applied to the step's second output and second input, or
        (name, threshold, total, prediction, input index) for a step with several outputs —
        into its total; each of ``losses`` — (a one-element loss tensor the step returns,
        its totals) — like the loss. Nothing is read back."""
        entry = self._entries[self._key_for_rows(kind, arrays, rows)]
        filled = [i for i, view in enumerate(entry.views) if view is not None]
        sources = [arrays[i] if isinstance(arrays[i], _C.Tensor)  # uploaded once (fit)
                   else _C.from_numpy(arrays[i], arrays[i].dtype.name) for i in filled]
        specs = [(m[0], m[1], entry.outputs[1], entry.slots[1], m[2]) if len(m) == 3
                 else (m[0], m[1], m[3], entry.slots[m[4]], m[2]) for m in metrics]
        entry.plan.replay_batches(sources, [entry.slots[i] for i in filled],
                                  _C.from_numpy(order), first, batches, entry.outputs[0], totals,
                                  specs, list(losses))
