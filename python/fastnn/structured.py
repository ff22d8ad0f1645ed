"""Training a functional model with several inputs or outputs (Keras 3's rules).

* x: a list of arrays in the order of ``model.inputs``, or a dict by input name; y (and
  sample_weight) a list in the order of the outputs or a dict by output name; one
  sample_weight array weights every output. DataLoaders and iterables yield batches of the
  same forms: ``([x1, x2], [y1, y2])`` or ``({"a": x1, "b": x2}, {"cls": y1})``.
* compile: ``loss`` one for every output, a list, or a dict by output name (an output
  without a loss needs no target); ``loss_weights`` a list or dict; ``metrics`` a list with
  one entry per output (a metric or a list of them), a dict by output name, or a list of
  another length that applies to every output (tf.keras 2's reading). The loss is
  sum(loss_weight_k * loss_k) plus the regularization penalties.
* Logs (History, evaluate's list, callbacks): "loss", then "<output>_loss" for each output
  with a loss, then "<output>_<metric>" (metrics keep their plain names when the model has
  one output).
* predict returns a list of arrays (a dict for outputs given as a dict).

A step's arrays (inputs, targets, weights) are one flat tuple for the step capture
(capture.py): each becomes an input buffer of the captured plan, one array used twice (a
sample weight shared by the outputs) becomes one buffer, and a replay gives exactly what the
eager step gives.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import losses as _losses
from .compiled_metrics import _Accumulator, _Metric
from .structured_data import Group, StructuredFeeding, _is_structure, _parts
from .symbolic import flatten
from .tensor import host_copy, no_grad
from .training import loss_value


class _Output:
    """An output that has a loss: its position among the outputs, name, loss, loss weight
    and compiled metrics (named for the logs)."""

    __slots__ = ("index", "name", "loss", "weight", "metrics")

    def __init__(self, index, name, loss, weight, metrics):
        self.index, self.name, self.loss, self.weight, self.metrics = (
            index, name, loss, weight, metrics)


class OutputLosses:
    """``model.loss`` of a model with several outputs: the loss of each output."""

    def __init__(self, outputs):
        self.outputs = outputs

    def __repr__(self):
        return "OutputLosses(" + ", ".join(
            f"{o.name}={o.loss!r} x {o.weight}" for o in self.outputs) + ")"


class _StepOutputs:
    """What a training or test step returns besides the total loss: every output's
    prediction and the loss of each output that has one."""

    __slots__ = ("preds", "losses")

    def __init__(self, preds, losses):
        self.preds, self.losses = preds, losses


class _StructuredAccumulator:
    """Dataset means of the total loss, each output's loss and each output's metrics (one
    _Accumulator per output: the device totals and metric kernels of a single output)."""

    def __init__(self, model, who):
        self.total = _Accumulator([], who, model._device)
        self.outputs = model._trained_outputs
        self.parts = [_Accumulator(o.metrics, who, model._device) for o in self.outputs]
        self.log_output_losses = len(model._output_tensors) > 1

    @property
    def samples(self):
        return self.total.samples

    def update(self, loss, out, y_true, sample_weight=None):
        ys, ws = _parts(y_true), _parts(sample_weight)
        self.total.update(loss, out.preds[0], None)
        for j, (o, part) in enumerate(zip(self.outputs, self.parts)):
            part.update(out.losses[j], out.preds[o.index], ys[j], ws[j] if ws else None)

    def native_specs(self, step_outputs, y_shapes, first_target, weighted=False):
        """For a replayed run of steps (capture.StepCapture.replay_batches): the metrics as
        (name, threshold, total, prediction, input index of the targets) and the per-output
        losses as (loss, totals), or None when a metric only numpy computes."""
        metrics, losses = [], []
        for j, (o, part) in enumerate(zip(self.outputs, self.parts)):
            pred = step_outputs.preds[o.index]
            if o.metrics:
                specs = part.native_specs(y_shapes[j], tuple(pred.shape), weighted)
                if specs is None:
                    return None
                metrics += [(name, threshold, total, pred, first_target + j)
                            for name, threshold, total in specs]
            losses.append((step_outputs.losses[j], part.totals))
        return metrics, losses

    def add_replayed(self, samples):
        self.total.add_replayed(samples)
        for part in self.parts:
            part.add_replayed(samples)

    def result(self, prefix="", check=True):
        logs = self.total.result(prefix, check)
        results = [part.result("", check) for part in self.parts]
        if self.log_output_losses:
            for o, r in zip(self.outputs, results):
                logs[f"{prefix}{o.name}_loss"] = r["loss"]
        for r in results:
            logs.update({prefix + k: v for k, v in r.items() if k != "loss"})
        return logs


def _per_output(who, arg, value, names):
    """A compile argument per output: a dict by name (missing names: None), a list with one
    entry per output, or one value for every output."""
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ValueError(f"{who}: {arg} names outputs {unknown}, but the model's outputs "
                             f"are {names}")
        return [value.get(n) for n in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ValueError(f"{who}: {arg} as a list needs one entry per output ({len(names)}: "
                             f"{names}), got {len(value)}; or pass a dict by output name")
        return list(value)
    return [value] * len(names)


def _metrics_per_output(arg, value, names):
    """compile's metrics per output: lists of metric identifiers."""
    def as_list(v):
        if v is None:
            return []
        return list(v) if isinstance(v, (list, tuple)) else [v]

    if value is None:
        return [[] for _ in names]
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ValueError(f"compile: {arg} names outputs {unknown}, but the model's outputs "
                             f"are {names}")
        return [as_list(value.get(n)) for n in names]
    if isinstance(value, (list, tuple)) and len(value) == len(names):
        return [as_list(v) for v in value]  # Keras 3: one entry per output
    return [as_list(value) for _ in names]  # tf.keras 2: every output gets them


def _loss_weight(who, value):
    if value is None:
        return 1.0
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{who}: expected each loss weight to be a finite number, got "
                         f"{value!r}")
    return float(value)


class StructuredTraining(StructuredFeeding):
    """compile/fit/evaluate/predict of fastnn.training for several inputs and outputs: a
    functional model's (``_graph``), or a subclassed model's inputs when fit gets a list or
    dict of arrays (its ``call`` then gets them in that form; it returns one output). A
    model with one input and one output goes through the plain path."""

    _structured = False
    _trained_outputs = ()
    _graph = False  # a functional model: inputs and outputs known from its graph
    _takes_structures = True  # Sequential: one input only
    _input_tensors = None
    _input_kind = "list"

    def _adopt_structure(self, x):
        """For a model without a graph: whether this call's x is several inputs; if so the
        inputs are named by the dict's keys or input_0, input_1, ... and the model's one
        output takes the compiled loss and metrics."""
        if self._graph:
            return
        self._structured = self._takes_structures and _is_structure(x)
        if not self._structured:
            return
        self._input_kind = "dict" if isinstance(x, dict) else "list"
        self._input_names = list(x) if isinstance(x, dict) else [f"input_{i}"
                                                                 for i in range(len(x))]
        self._ids = [False] * len(self._input_names)
        self._output_tensors, self._output_names, self._output_struct = [None], ["output"], None
        self._trained_outputs = ([_Output(0, "output", self.loss, 1.0, list(self._metric_specs))]
                                 if self._compiled and self.loss is not None else [])

    # --- compile -------------------------------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, capture=True,
                run_eagerly=False, loss_weights=None, weighted_metrics=None):
        if not self._graph:
            return super().compile(optimizer, loss, metrics, capture, run_eagerly, loss_weights,
                                   weighted_metrics)
        names = self.output_names
        if not self._structured:
            # One output: a list or dict naming it is that output's entry.
            loss = _per_output("compile", "loss", loss, names)[0]
            metrics = _metrics_per_output("metrics", metrics, names)[0]
            weighted = _metrics_per_output("weighted_metrics", weighted_metrics, names)[0]
            if loss_weights is not None and _loss_weight(
                    "compile: loss_weights", _per_output("compile", "loss_weights",
                                                         loss_weights, names)[0]) == 1.0:
                loss_weights = None
            return super().compile(optimizer, loss, metrics, capture, run_eagerly,
                                   loss_weights, weighted or None)
        losses = [None if value is None else _losses.get(value, who=f"compile: loss of output "
                                                                      f"'{name}'")
                  for value, name in zip(_per_output("compile", "loss", loss, names), names)]
        weights = [_loss_weight("compile: loss_weights", w)
                   for w in _per_output("compile", "loss_weights", loss_weights, names)]
        plain = _metrics_per_output("metrics", metrics, names)
        weighted = _metrics_per_output("weighted_metrics", weighted_metrics, names)
        prefix = len(names) > 1
        outputs = []
        for k, name in enumerate(names):
            if losses[k] is None:
                if plain[k] or weighted[k]:
                    raise ValueError(f"compile: output '{name}' has metrics but no loss; give "
                                     "it a loss (its targets are then needed) or drop them")
                continue
            specs = [_Metric(m, losses[k]) for m in plain[k]]
            plain_names = {m.name for m in specs}
            for m in weighted[k]:
                spec = _Metric(m, losses[k], weighted=True)
                if spec.name in plain_names:
                    spec.name = "weighted_" + spec.name
                specs.append(spec)
            if prefix:
                for spec in specs:
                    spec.base_name = spec.name  # which way it improves (callbacks.py)
                    spec.name = f"{name}_{spec.name}"
            outputs.append(_Output(k, name, losses[k], weights[k], specs))
        objects = [m for per in plain + weighted for m in per if not isinstance(m, str)]
        if len({id(m) for m in objects}) != len(objects) and any(
                hasattr(m, "update_state") for m in objects):
            raise ValueError("compile: the same metric object is given for several outputs "
                             "(or in metrics and weighted_metrics); pass one object each")
        all_names = ["loss"] + [f"{o.name}_loss" for o in outputs if prefix] + [
            m.name for o in outputs for m in o.metrics]
        repeated = sorted({n for n in all_names if all_names.count(n) > 1})
        if repeated:
            raise ValueError(f"compile: log names must be unique, got {repeated} more than "
                             "once")
        super().compile(optimizer, None, None, capture, run_eagerly)
        self._trained_outputs = outputs
        self.loss = OutputLosses(outputs) if outputs else None
        self._metric_specs = [m for o in outputs for m in o.metrics]
        self._compile_args.update(loss=loss, metrics=[list(p) for p in plain],
                                  loss_weights=weights)
        if any(weighted):
            self._compile_args["weighted_metrics"] = [list(p) for p in weighted]

    @property
    def _output_loss_names(self):
        """The per-output loss logs ("cls_loss"): callbacks minimize them in mode "auto"."""
        if len(getattr(self, "_output_tensors", ())) < 2:
            return []
        return [f"{o.name}_loss" for o in self._trained_outputs]

    @property
    def metrics_names(self):
        if not (self._structured and self._graph):
            return super().metrics_names
        return ["loss"] + [f"{o.name}_loss" for o in self._trained_outputs
                           if len(self._output_tensors) > 1] + [
            m.name for m in self._metric_specs]

    # --- steps -----------------------------------------------------------------------------------

    def _step_forward(self, x, training):
        if self._structured and not self._graph and self._input_kind == "dict":
            x = dict(zip(self._input_names, x))
        out = self(x, training=training)
        if self._structured:
            out = tuple(flatten(out))
            if not self._graph and len(out) != 1:
                raise TypeError(f"{type(self).__name__}: fit/evaluate/predict of a subclassed "
                                f"model take one output, got {len(out)}; build a model with "
                                "several outputs with keras.Model(inputs, outputs)")
            return out
        return out[0] if self._graph and isinstance(out, list) else out

    def _split(self, flat):
        n_in, n_out = len(self._input_names), len(self._trained_outputs)
        xs, ys, ws = flat[:n_in], flat[n_in:n_in + n_out], flat[n_in + n_out:]
        return ([self._tensor(a) for a in xs], [self._tensor(a) for a in ys],
                [self._tensor(a) for a in ws] or None)

    def _structured_loss(self, preds, ys, ws):
        total, parts = None, []
        for j, o in enumerate(self._trained_outputs):
            value = loss_value(o.loss, preds[o.index], ys[j], ws[j] if ws else None)
            parts.append(value)
            term = value if o.weight == 1.0 else value * o.weight
            total = term if total is None else total + term
        for penalty in self.losses:
            total = total + penalty
        return total, tuple(parts)

    def _structured_train(self, *flat):
        xs, ys, ws = self._split(flat)
        preds = self._step_forward(xs, True)
        loss, parts = self._structured_loss(preds, ys, ws)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss, _StepOutputs(preds, parts)

    def _structured_test(self, *flat):
        xs, ys, ws = self._split(flat)
        with no_grad():
            preds = self._step_forward(xs, False)
            loss, parts = self._structured_loss(preds, ys, ws)
        return loss, _StepOutputs(preds, parts)

    def _structured_predict(self, *xs):
        with no_grad():
            return self._step_forward([self._tensor(a) for a in xs], False)

    def _train_step(self, x, y, w=None):
        if not self._structured:
            return super()._train_step(x, y, w)
        inputs = _parts(x) + _parts(y) + _parts(w)
        if not self._capturing("train"):
            return self._structured_train(*inputs)
        return self._captured.run(
            "train", self._structured_train, inputs, params=lambda: self.trainable_weights,
            before_replay=self.optimizer._sync, ready=lambda: self.built,
            on_refusal=self._refused, device=self._device)

    def _test_step(self, x, y, w=None):
        if not self._structured:
            return super()._test_step(x, y, w)
        inputs = _parts(x) + _parts(y) + _parts(w)
        if not self._capturing("test"):
            return self._structured_test(*inputs)
        return self._captured.run("test", self._structured_test, inputs,
                                  ready=lambda: self.built, on_refusal=self._refused,
                                  device=self._device)

    def _predict_step(self, x):
        if not self._structured:
            return super()._predict_step(x)
        inputs = _parts(x)
        if not self._capturing("predict"):
            return self._structured_predict(*inputs)
        return self._captured.run("predict", self._structured_predict, inputs,
                                  ready=lambda: self.built, on_refusal=self._refused,
                                  device=self._device)

    def _accumulator(self, who):
        if not self._structured:
            return super()._accumulator(who)
        return _StructuredAccumulator(self, who)

    # The one-call epoch (training.TrainingMixin._fit_epoch_replayed) with every input,
    # target and sample weight gathered by the plan, and each output's loss accumulated.
    def _replay_arrays(self, source):
        if not self._structured:
            return super()._replay_arrays(source)
        x, y, w = source.x, source.y, source.w
        return x.arrays + y.arrays + (() if w is None else w.arrays)

    def _replay_specs(self, acc, outputs, source):
        if not self._structured:
            return super()._replay_specs(acc, outputs, source)
        y_shapes = [(source.batch_size,) + a.shape[1:] for a in source.y.arrays]
        return acc.native_specs(outputs[1], y_shapes, len(source.x.arrays),
                                weighted=source.w is not None)

    def _replay_train(self, arrays, order, b, first, count, acc, specs):
        if not self._structured:
            return super()._replay_train(arrays, order, b, first, count, acc, specs)
        self._captured.replay_batches("train", arrays, order, b, first * b, count,
                                      acc.total.totals, specs[0], specs[1])

    # --- predict ---------------------------------------------------------------------------------

    def _predicted(self, out):
        if not self._structured:
            return super()._predicted(out)
        return tuple(host_copy(o) for o in out)

    def _joined(self, outputs):
        if not self._structured:
            return super()._joined(outputs)
        arrays = [np.concatenate(parts, axis=0) for parts in zip(*outputs)]
        if isinstance(self._output_struct, dict):
            return dict(zip(self._output_struct, arrays))
        if isinstance(self._output_struct, list):
            return arrays
        return arrays[0]

    def predict_on_batch(self, x):
        self._adopt_structure(x)
        if not self._structured:
            return super().predict_on_batch(x)
        who = "predict_on_batch"
        group = self._prepare_x(who, self._input_group(who, x))
        return self._joined([self._predicted(self._predict_step(group))])

    def _rows_of(self, x):
        if not (self._graph and self._structured) and not (
                self._takes_structures and not self._graph and _is_structure(x)):
            return super()._rows_of(x)
        first = (next(iter(x.values()), None) if isinstance(x, dict)
                 else x[0] if isinstance(x, (list, tuple)) and x else x)
        return len(np.asarray(first)) or 1


__all__ = ["StructuredTraining", "Group", "OutputLosses"]
