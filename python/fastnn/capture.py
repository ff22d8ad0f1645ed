"""Step capture for fit/evaluate/predict.

The first step for an input signature (shapes and dtypes) runs eagerly while a
``fastnn._C.Plan`` records every kernel it launches, with its buffers: forward, loss,
regularization terms, backward and the optimizer update (recorded whole, so it reads the
live step count and learning rate). Later steps copy the batch into the captured input
buffers and replay the plan in C++: no Python per op, no autograd bookkeeping, no allocation.
The results are bitwise identical to running the steps eagerly.
"""

from __future__ import annotations

import numpy as np

from . import _C


class _Entry:
    __slots__ = ("plan", "slots", "views", "outputs")

    def __init__(self, plan, slots, outputs):
        self.plan = plan
        self.slots = slots
        self.views = [None if s is None else np.asarray(s) for s in slots]
        self.outputs = outputs


class StepCapture:
    """Plans by (step kind, input signature) for one model; cleared by ``compile``."""

    def __init__(self):
        self._entries: dict = {}

    def clear(self):
        self._entries.clear()

    def __len__(self):
        return len(self._entries)

    def run(self, kind, step, inputs, params=(), before_replay=None, ready=True):
        """``step(*inputs)`` captured on first use of this signature, replayed after.

        ``params``: tensors whose gradients the step writes (re-attached before each replay).
        ``before_replay``: Python work the step does outside its kernels (the optimizer's
        learning rate and step count). ``ready`` False runs the step eagerly, uncaptured
        (a model that still has to create its weights).
        """
        key = (kind,) + tuple(None if t is None else (t.shape, t.dtype) for t in inputs)
        entry = self._entries.get(key)
        if entry is None:
            if not ready:
                return step(*inputs)
            slots = tuple(None if t is None else t.clone_data() for t in inputs)
            plan = _C.Plan()
            plan.begin_capture()
            try:
                outputs = step(*slots)
            except BaseException:
                plan.abort_capture()
                raise
            plan.end_capture(list(params))
            self._entries[key] = _Entry(plan, slots, outputs)
            return outputs
        for view, t in zip(entry.views, inputs):
            if view is not None:
                np.copyto(view, t)
        if before_replay is not None:
            before_replay()
        entry.plan.replay()
        return entry.outputs
