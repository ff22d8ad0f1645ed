"""Gradients without ``.grad``: PyTorch's ``torch.autograd.grad`` and TensorFlow's
``tf.GradientTape``, over the same autograd graph ``loss.backward()`` walks.

    grads = fn.autograd.grad(loss, model.parameters())          # PyTorch
    with fn.GradientTape() as tape:                              # TensorFlow (seed 003)
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))

fastnn records the graph whenever an input requires grad (as PyTorch does), so the tape
does not record anything itself: ``gradient`` walks the graph behind its target. What it
adds is TensorFlow's contract: structures in, the same structure out, ``None`` for a
source the target does not depend on, one ``gradient`` call unless ``persistent=True``,
``watch`` for tensors that do not require grad yet.
"""

from __future__ import annotations

from . import _C
from .tensor import Tensor


def _tensors(values, who, arg):
    values = list(values) if not isinstance(values, Tensor) else [values]
    for i, v in enumerate(values):
        if not isinstance(v, Tensor):
            raise TypeError(f"{who}: expected {arg} to hold fastnn tensors, got "
                            f"{type(v).__name__} at position {i}")
    return values


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """PyTorch's ``torch.autograd.grad``: a tuple with d(outputs)/d(input) for each input,
    leaving every ``.grad`` as it was. ``outputs`` is a tensor (or a one-element sequence);
    ``grad_outputs`` its gradient (needed unless it has one element). An input the output
    does not depend on raises, unless ``allow_unused=True`` (then its gradient is None)."""
    who = "autograd.grad"
    if create_graph:
        raise ValueError(f"{who}: create_graph=True (gradients of gradients) is not supported")
    outs = _tensors(outputs, who, "outputs")
    if len(outs) != 1:
        raise ValueError(f"{who}: expected one output tensor, got {len(outs)}; sum them first")
    ins = _tensors(inputs, who, "inputs")
    seed = None
    if grad_outputs is not None:
        seeds = _tensors(grad_outputs, who, "grad_outputs")
        if len(seeds) != 1:
            raise ValueError(f"{who}: expected one grad_outputs tensor, got {len(seeds)}")
        seed = seeds[0]
    for i, t in enumerate(ins):
        if not t.requires_grad:
            raise RuntimeError(f"{who}: input {i} does not require grad")
    grads = _C.grad(outs[0], ins, seed, bool(retain_graph))
    if not allow_unused:
        for i, g in enumerate(grads):
            if g is None:
                raise RuntimeError(f"{who}: input {i} was not used to compute the output "
                                   "(pass allow_unused=True to get None for it)")
    return tuple(grads)


def _flatten(structure):
    """The tensors of a (nested) list/tuple/dict of tensors, and a function that rebuilds the
    structure from a list of values in that order."""
    if isinstance(structure, dict):
        keys = list(structure)
        parts = [_flatten(structure[k]) for k in keys]
        leaves = [leaf for flat, _ in parts for leaf in flat]

        def rebuild(values):
            out, i = {}, 0
            for k, (flat, build) in zip(keys, parts):
                out[k] = build(values[i:i + len(flat)])
                i += len(flat)
            return out
        return leaves, rebuild
    if isinstance(structure, (list, tuple)):
        parts = [_flatten(v) for v in structure]
        leaves = [leaf for flat, _ in parts for leaf in flat]
        kind = type(structure)

        def rebuild(values):
            out, i = [], 0
            for flat, build in parts:
                out.append(build(values[i:i + len(flat)]))
                i += len(flat)
            return kind(out) if kind in (list, tuple) else kind(*out)
        return leaves, rebuild
    return [structure], lambda values: values[0]


class GradientTape:
    """TensorFlow's ``tf.GradientTape``: ``tape.gradient(target, sources)`` inside or after a
    ``with GradientTape() as tape:`` block. ``persistent=True`` allows several gradient
    calls (the graph is kept until the tape is dropped). ``watch(t)`` makes a tensor that
    does not require grad a source (as watching a tf.constant); variables — weights, any
    tensor with requires_grad — are watched already (``watch_accessed_variables``)."""

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = bool(persistent)
        self.watch_accessed_variables = bool(watch_accessed_variables)
        self._used = False
        self._watched = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def watch(self, tensor):
        for t in _tensors(tensor if isinstance(tensor, (list, tuple)) else [tensor],
                          "GradientTape.watch", "tensor"):
            if not t.requires_grad:
                if t.grad_fn is not None:
                    raise ValueError("GradientTape.watch: the tensor was computed by an op "
                                     "before watch; watch its inputs before computing it")
                t.requires_grad = True
            self._watched.append(t)

    def watched_variables(self):
        return tuple(self._watched)

    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients="none"):
        """d(target)/d(sources) in the structure of ``sources`` (a tensor, list, tuple or
        dict). A non-scalar target's gradient is that of its sum (TensorFlow's rule) unless
        ``output_gradients`` is given. Sources the target does not depend on get None, or
        zeros with ``unconnected_gradients="zero"``."""
        who = "GradientTape.gradient"
        if self._used and not self.persistent:
            raise RuntimeError(f"{who}: a non-persistent GradientTape can only be used to "
                               "compute one set of gradients (use persistent=True)")
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(f"{who}: expected unconnected_gradients 'none' or 'zero', got "
                             f"{unconnected_gradients!r}")
        if not isinstance(target, Tensor):
            raise TypeError(f"{who}: expected target to be a fastnn tensor, got "
                            f"{type(target).__name__}")
        flat, rebuild = _flatten(sources)
        _tensors(flat, who, "sources")
        self._used = True
        if not target.requires_grad:  # nothing it depends on is watched
            grads = [None] * len(flat)
        else:
            seed = output_gradients
            if seed is None and target.numel() != 1:
                seed = _filled_like(target, 1.0)
            grads = list(_C.grad(target, flat, seed, self.persistent))
        if unconnected_gradients == "zero":
            grads = [g if g is not None else _filled_like(s, 0.0) for g, s in zip(grads, flat)]
        return rebuild(grads)


def _filled_like(t, value):
    import numpy as np

    return Tensor(np.full(t.shape, value, dtype=t.dtype), t.dtype).to(t.device)
