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
from .capture import Rows
from .compiled_metrics import _Accumulator, _Metric
from .data import DataLoader
from .data import permutation
from .feeding import _DEFAULT_BATCH, _ClassWeight, _check_int, _describe
from .progress import Progress
from .symbolic import flatten
from .tensor import Tensor, no_grad
from .training import loss_value


class Group:
    """Arrays with one row per sample (one per model input, or per trained output) that
    are sliced and gathered together: ``len`` is the number of samples."""

    __slots__ = ("arrays",)

    def __init__(self, arrays):
        self.arrays = tuple(arrays)

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        if not isinstance(index, slice):
            raise TypeError(f"Group: expected a slice of rows, got {type(index).__name__}")
        return Group(a[index] for a in self.arrays)

    @property
    def shape(self):
        return tuple(tuple(a.shape) for a in self.arrays)


def _parts(value):
    """The arrays of a batch of a Group (sliced or gathered as Rows), or (value,)."""
    if value is None:
        return ()
    if isinstance(value, Group):
        return value.arrays
    if isinstance(value, Rows) and isinstance(value.array, Group):
        return tuple(Rows(a, value.index) for a in value.array.arrays)
    return (value,)


def _is_array(value):
    return isinstance(value, (np.ndarray, Tensor, Rows)) or hasattr(value, "__array__")


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
        self.total = _Accumulator([], who)
        self.outputs = model._trained_outputs
        self.parts = [_Accumulator(o.metrics, who) for o in self.outputs]
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


class _StructuredBatches:
    """An iterable of batches whose x, y and sample weights (lists or dicts) are turned into
    Groups in the model's order, batch by batch."""

    def __init__(self, model, batches, who):
        self.model, self.batches, self.who = model, batches, who

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        model = self.model
        for k, batch in enumerate(self.batches):
            where = f"{self.who} (batch {k})"
            if isinstance(batch, dict) or not isinstance(batch, (tuple, list)) or (
                    isinstance(batch, list) and len(batch) == len(model._input_names) > 1
                    and all(_is_array(b) for b in batch)):
                yield model._input_group(where, batch)
                continue
            if len(batch) not in (1, 2, 3):
                raise ValueError(f"{where}: expected (x, y) or (x, y, sample_weight), got a "
                                 f"{type(batch).__name__} of {len(batch)} items")
            items = [model._input_group(where, batch[0])]
            trained = getattr(model, "_trained_outputs", None)
            if len(batch) > 1:
                items.append(model._target_group(where, batch[1]) if trained else batch[1])
            if len(batch) > 2:
                items.append(model._weight_group(where, batch[2]) if trained else batch[2])
            yield tuple(items)


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


def _is_structure(x):
    """Whether x is several inputs: a dict of arrays, or a list/tuple of two or more arrays
    or tensors (a list of numbers or of lists stays one array, as numpy reads it)."""
    if isinstance(x, dict):
        return bool(x) and all(_is_array(v) for v in x.values())
    return (isinstance(x, (list, tuple)) and len(x) >= 2
            and all(isinstance(v, (np.ndarray, Tensor)) for v in x))


class StructuredTraining:
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
            on_refusal=self._refused)

    def _test_step(self, x, y, w=None):
        if not self._structured:
            return super()._test_step(x, y, w)
        inputs = _parts(x) + _parts(y) + _parts(w)
        if not self._capturing("test"):
            return self._structured_test(*inputs)
        return self._captured.run("test", self._structured_test, inputs,
                                  ready=lambda: self.built, on_refusal=self._refused)

    def _predict_step(self, x):
        if not self._structured:
            return super()._predict_step(x)
        inputs = _parts(x)
        if not self._capturing("predict"):
            return self._structured_predict(*inputs)
        return self._captured.run("predict", self._structured_predict, inputs,
                                  ready=lambda: self.built, on_refusal=self._refused)

    def _accumulator(self, who):
        if not self._structured:
            return super()._accumulator(who)
        return _StructuredAccumulator(self, who)

    def _fit_epoch_replayed(self, source, acc, progress=None):
        """training.TrainingMixin._fit_epoch_replayed for several inputs and outputs: the
        full batches of an epoch replay in one C++ call that gathers every input, target
        and sample weight, accumulating the loss, each output's loss and the accuracies; the
        batches, their order and the results are those of the batch loop."""
        if not self._structured:
            return super()._fit_epoch_replayed(source, acc, progress)
        if progress is None:
            progress = Progress("fit", 0)
        x, y, w, b = source.x, source.y, source.w, source.batch_size
        arrays = x.arrays + y.arrays + (() if w is None else w.arrays)
        n = len(x)
        order = permutation(n) if source.shuffle else np.arange(n, dtype=np.int64)
        full = n // b

        def step(lo, hi):
            rows = order[lo:hi]
            xb, yb = Rows(x, rows), Rows(y, rows)
            wb = None if w is None else Rows(w, rows)
            loss, out = self._train_step(xb, yb, wb)
            acc.update(loss, out, yb, wb)
            progress.advance(1, acc)

        done = 0
        if full and self._captured.outputs_for_rows("train", arrays, b) is None:
            step(0, b)  # captures the plan (or finds the model must train eagerly)
            done = 1
        if done < full:
            outputs = (self._captured.outputs_for_rows("train", arrays, b)
                       if self._capturing() else None)
            specs = None
            if outputs is not None:
                y_shapes = [(b,) + a.shape[1:] for a in y.arrays]
                specs = acc.native_specs(outputs[1], y_shapes, len(x.arrays),
                                         weighted=w is not None)
            k = done
            while k < full:
                run = self.optimizer._replay_steps(full - k) if specs is not None else 0
                if run:
                    for first, count in progress.chunks(k, run, acc):
                        self._captured.replay_batches("train", arrays, order, b, first * b,
                                                      count, acc.total.totals, specs[0],
                                                      specs[1])
                        acc.add_replayed(count * b)
                    k += run
                else:
                    step(k * b, (k + 1) * b)
                    k += 1
        if n % b:
            step(full * b, n)
        return None

    # --- predict ---------------------------------------------------------------------------------

    def _predicted(self, out):
        if not self._structured:
            return super()._predicted(out)
        return tuple(np.array(o, copy=True) for o in out)

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

    # --- data ------------------------------------------------------------------------------------

    def _input_group(self, who, x):
        """x as a Group in the order of the model's inputs (a list in that order, a dict by
        input name, or one array for a model with one input), each array checked."""
        if isinstance(x, Group):
            return x
        names = self._input_names
        n = len(names)
        if isinstance(x, dict):
            missing = [k for k in names if k not in x]
            unknown = [k for k in x if k not in names]
            if missing or unknown:
                raise ValueError(f"{who}: expected x as a dict with the model's input names "
                                 f"{names}, got the keys {list(x)} (missing {missing}, "
                                 f"unknown {unknown})")
            arrays = [x[k] for k in names]
        elif isinstance(x, (list, tuple)) and (n > 1 or (len(x) == 1 and _is_array(x[0]))):
            if len(x) != n:
                raise ValueError(f"{who}: the model has {n} inputs {names}; expected x as a "
                                 f"list of {n} arrays in that order (or a dict by input name), "
                                 f"got a {type(x).__name__} of {len(x)}")
            arrays = list(x)
        elif n == 1:
            arrays = [x]
        else:
            raise ValueError(f"{who}: the model has {n} inputs {names}; expected x as a list "
                             f"of {n} arrays in that order or a dict by input name, got "
                             f"{_describe(x)}")
        return Group(self._check_array(who, a, f"x[{name!r}]") for a, name in zip(arrays, names))

    def _by_output(self, who, arg, value):
        """Targets or sample weights per trained output: a dict by output name, a list (one
        per output, or one per output with a loss), or one array (one trained output; for
        sample weights, every output)."""
        outputs = self._trained_outputs
        names = self._output_names
        trained = [o.name for o in outputs]
        if isinstance(value, Group):
            return value
        if isinstance(value, dict):
            unknown = [k for k in value if k not in names]
            missing = [k for k in trained if k not in value]
            if unknown or missing:
                raise ValueError(f"{who}: expected {arg} as a dict by output name with the "
                                 f"outputs that have a loss {trained}, got the keys "
                                 f"{list(value)} (missing {missing}, unknown {unknown})")
            arrays = [value[k] for k in trained]
        elif isinstance(value, (list, tuple)) and (len(names) > 1 or (
                len(value) == 1 and _is_array(value[0]))):
            if len(value) == len(names):
                arrays = [value[o.index] for o in outputs]
            elif len(value) == len(outputs):
                arrays = list(value)
            else:
                raise ValueError(f"{who}: the model has {len(names)} outputs {names} "
                                 f"({len(outputs)} with a loss); expected {arg} as a list of "
                                 f"{len(names)} arrays in that order (or a dict by output "
                                 f"name), got a {type(value).__name__} of {len(value)}")
        elif len(outputs) == 1 or arg == "sample_weight":
            arrays = [value] * len(outputs)
        else:
            raise ValueError(f"{who}: the model has {len(outputs)} outputs with a loss "
                             f"{trained}; expected {arg} as a list of arrays in the order of "
                             f"the outputs or a dict by output name, got {_describe(value)}")
        return Group(self._check_array(who, a, f"{arg}[{o.name!r}]")
                     for a, o in zip(arrays, outputs))

    def _target_group(self, who, y):
        return self._by_output(who, "y", y)

    def _weight_group(self, who, w):
        return self._by_output(who, "sample_weight", w)

    @staticmethod
    def _iterable(x):
        return isinstance(x, DataLoader) or (
            not isinstance(x, (dict, list, tuple, np.ndarray, Tensor, Group))
            and not hasattr(x, "__array__") and hasattr(x, "__iter__")) or (
            isinstance(x, list) and bool(x) and isinstance(x[0], tuple))

    def _adapt(self, who, x, y, batch_size, need_y, shuffle=False, sample_weight=None):
        if not self._graph:
            self._adopt_structure(x[0] if isinstance(x, tuple) and y is None and need_y
                                  and len(x) in (2, 3) else x)
        if not self._structured:
            return super()._adapt(who, x, y, batch_size, need_y, shuffle, sample_weight)
        if x is None:
            raise ValueError(f"{who}: x is required")
        if isinstance(x, tuple) and y is None and need_y:
            if len(x) not in (2, 3):
                raise ValueError(f"{who}: x given as a tuple must be (x, y) or (x, y, "
                                 f"sample_weight), got a tuple of {len(x)} items")
            if len(x) == 3:
                if sample_weight is not None:
                    raise ValueError(f"{who}: sample weights given twice (in the x tuple and "
                                     "as sample_weight)")
                sample_weight = x[2]
            x, y = x[0], x[1]
        if self._iterable(x):
            source = super()._adapt(who, x, y, batch_size, need_y, shuffle, sample_weight)
            if not source.arrays:
                source.x = _StructuredBatches(self, source.x, who)
            return source
        from .feeding import _Source

        batch_size = _check_int(who, "batch_size", batch_size, 1, allow_none=True) or _DEFAULT_BATCH
        xg = self._input_group(who, x)
        yg = wg = None
        if y is not None and need_y:
            yg = self._target_group(who, y)
        elif need_y:
            raise ValueError(f"{who}: y is required when x is arrays (a list or dict of "
                             "arrays, one per input)")
        if sample_weight is not None and need_y:
            wg = self._weight_group(who, sample_weight)
        n = len(xg)
        outputs = [o.name for o in self._trained_outputs]
        for group, arg, names in ((xg, "x", self._input_names), (yg, "y", outputs),
                                  (wg, "sample_weight", outputs)):
            for a, name in zip(() if group is None else group.arrays, names):
                if len(a) != n:
                    raise ValueError(f"{who}: every input, target and sample weight needs the "
                                     f"same number of samples, got {n} in "
                                     f"x[{self._input_names[0]!r}] and {len(a)} in "
                                     f"{arg}[{name!r}]")
        return _Source("arrays", xg, yg, batch_size, shuffle, w=wg)

    def _prepare_x(self, who, x, arg="x"):
        if not isinstance(x, Group):
            if self._structured:
                x = self._input_group(who, x)
            elif not self._graph:
                return super()._prepare_x(who, x, arg)
            else:
                return self._prepare_input_array(who, x, arg, self._ids[0],
                                                 self._input_np_dtype(0))
        return Group(self._prepare_input_array(who, a, f"{arg}[{name!r}]", self._ids[i],
                                               self._input_np_dtype(i))
                     for i, (a, name) in enumerate(zip(x.arrays, self._input_names)))

    def _input_np_dtype(self, i):
        if self._input_tensors is None:
            return self._np_dtype()
        dtype = self._input_tensors[i].dtype
        return np.dtype(dtype if dtype.startswith("float") else self.dtype)

    def _check_input_shape(self, who, shape):
        if self._input_tensors is None:  # no graph: no declared shapes
            return super()._check_input_shape(who, shape)
        shapes = shape if self._structured else (shape,)
        for s, t, name in zip(shapes, self._input_tensors, self._input_names):
            if len(s) != len(t.shape) or any(d is not None and d != g
                                             for d, g in zip(t.shape[1:], s[1:])):
                text = "(" + ", ".join("None" if d is None else str(d) for d in t.shape) + ")"
                raise ValueError(f"{who}: expected x[{name!r}] of shape {text} (its "
                                 f"keras.Input's), got an array of shape {tuple(s)}")

    def _output_shape_for(self, x_sample):
        if not self._structured:
            return super()._output_shape_for(x_sample)
        return tuple(tuple(o.shape) for o in self._predict_step(x_sample))

    def _prepare_y(self, who, y, out_shape, arg="y", loss=None):
        if not isinstance(y, Group):
            return super()._prepare_y(who, y, out_shape, arg, loss)
        return Group(super(StructuredTraining, self)._prepare_y(
            who, a, out_shape[o.index], f"{arg}[{o.name!r}]", loss=o.loss)
            for a, o in zip(y.arrays, self._trained_outputs))

    def _prepare_w(self, who, w, out_shape, arg="sample_weight"):
        if not isinstance(w, Group):
            return super()._prepare_w(who, w, out_shape, arg)
        return Group(super(StructuredTraining, self)._prepare_w(
            who, a, out_shape[o.index], f"{arg}[{o.name!r}]")
            for a, o in zip(w.arrays, self._trained_outputs))

    def _with_class_weight(self, who, source, class_weight):
        if not self._structured:
            return super()._with_class_weight(who, source, class_weight)
        if len(self._trained_outputs) != 1 or not source.arrays:
            raise ValueError(f"{who}: class_weight is supported for a model with one output "
                             "and array data (Keras's rule); pass sample_weight per output")
        if source.w is not None:
            raise ValueError(f"{who}: you cannot pass class_weight and sample_weight at the "
                             "same time (Keras's rule); multiply them into sample_weight")
        from .feeding import _Source

        out_shape = self._output_shape_for(source.x[:1])[self._trained_outputs[0].index]
        table = _ClassWeight(who, class_weight, out_shape)
        w = Group([table(who, source.y.arrays[0], self._np_dtype())])
        return _Source("arrays", source.x, source.y, source.batch_size, source.shuffle, w=w)


__all__ = ["StructuredTraining", "Group", "OutputLosses"]
