"""The Keras training front-end of ``fn.Model``: compile, fit, evaluate, predict, summary.

``Model`` inherits :class:`TrainingMixin`, so Sequential and subclassed models (``call`` or
``forward``) train the same way::

    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=10, batch_size=32, validation_split=0.2)
    model.evaluate(x_test, y_test)      # loss, or [loss, *metrics]
    model.predict(x_test)               # numpy array

How a step runs (the seam a captured/replayed step plugs into):

* ``_batches(...)`` is the one producer of batches: contiguous numpy arrays of the model's
  dtype (slices of arrays prepared once, or the checked batches of a DataLoader / iterable).
* ``_train_step(x, y)`` runs forward, the loss plus the regularization penalties
  (``model.losses``), zero_grad, backward and the optimizer step and returns
  ``(loss, y_pred)``; ``_predict_step(x)`` runs the model under ``no_grad`` with
  ``training=False``; ``_test_step(x, y)`` is ``_predict_step`` plus the loss. With
  ``compile(capture=True)`` each is captured once per input signature and replayed
  (fastnn/capture.py); otherwise the batch becomes tensors without a copy and runs op by op.
* The loss and the accuracy metrics accumulate on the device (compiled_metrics._Accumulator) from the
  returned tensors and the batch's labels, weighted by batch size, so epoch values are exact
  dataset means and a step reads nothing back; metrics computed in numpy read each batch.
* Sample weights (``sample_weight``, ``class_weight``, a third item of validation_data) are
  per-sample data like the labels: gathered per batch and passed to the step as a third
  input (a captured plan's input buffer), where the loss becomes Keras's
  sum(w * loss) / batch size.
* A step the plan cannot replay (a host read or numpy data inside the step) makes that
  model train eagerly, with one warning; plans are dropped when the structure or training
  state changes (checked at every fit/evaluate/predict call and at every epoch's start).

Labels are checked against the loss (shape, integer class labels in range, binary targets
in [0, 1], finite values) for the whole dataset before the first step, so a bad label fails
at once with its position instead of in the middle of an epoch.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings

import numpy as np

from . import _C
from . import losses as _losses
from . import optim as _optim
from . import optimizers as _optimizers
from .callbacks import History, _Callbacks
from .capture import Rows, StepCapture
from .data import permutation
from .feeding import FeedingMixin, _Source, _check_int
from .compiled_metrics import _Accumulator, _Metric
from .progress import Progress, _format_logs, _format_time  # noqa: F401 (kept importable)
from .summary import last_output_shapes, print_summary
from .tensor import Tensor, host_copy, no_grad


def _check_verbose(who, verbose):
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"{who}: expected verbose to be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


def _metric_list(metrics, arg):
    """compile's metrics / weighted_metrics as a list."""
    if metrics is None:
        return []
    if isinstance(metrics, dict):
        raise TypeError(f"compile: {arg} per output (a dict) is not supported; pass a list")
    if isinstance(metrics, (str, bytes)) or not isinstance(metrics, (list, tuple)):
        return [metrics]
    return list(metrics)


def loss_value(loss_fn, y_pred, y, sample_weight=None):
    """One output's loss: a Loss (with Keras's sample weighting) or a custom function
    ``fn(y_true, y_pred)`` returning a tensor (per-sample values are averaged, or weighted
    as Keras wraps custom losses)."""
    if isinstance(loss_fn, _losses.Loss):
        if sample_weight is None:
            return loss_fn(y_pred=y_pred, y_true=y)
        return loss_fn(y_pred=y_pred, y_true=y, sample_weight=sample_weight)
    # Keras's order for custom losses; a PyTorch loss module (fastnn.nn) takes torch's.
    loss = loss_fn(y_pred, y) if getattr(loss_fn, "prediction_first", False) else loss_fn(y, y_pred)
    if not isinstance(loss, Tensor):
        name = getattr(loss_fn, "__name__", loss_fn)
        raise TypeError(f"compile: the custom loss {name!r} returned"
                        f" a {type(loss).__name__}; it must return a fastnn "
                        "tensor computed with fastnn ops so it can be differentiated")
    if sample_weight is not None:  # Keras wraps custom losses the same way
        return _losses.weighted_reduce(loss, sample_weight, "sum_over_batch_size",
                                       "compile: the custom loss")
    if loss.ndim:
        loss = loss.mean()
    return loss


# --- the mixin -------------------------------------------------------------------------------


class TrainingMixin(FeedingMixin):
    """compile / fit / evaluate / predict / summary for :class:`fastnn.Model`."""

    _compiled = False
    _capture = True
    optimizer = None
    stop_training = False

    # compile's loss, kept out of the instance's attributes: a model tracks the layers its
    # attributes hold, and a PyTorch loss (nn.CrossEntropyLoss) is a module.
    @property
    def loss(self):
        return self.__dict__.get("_loss")

    @loss.setter
    def loss(self, value):
        self.__dict__["_loss"] = value

    # --- compile -----------------------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, capture=True,
                run_eagerly=False, loss_weights=None, weighted_metrics=None):
        """Configures training (Keras's defaults: optimizer "rmsprop").

        ``optimizer``: a Keras name ("adam", "sgd", "rmsprop", "adamw", "adagrad"), a
        :mod:`fastnn.optimizers` object (bound to this model's parameters here) or a
        :mod:`fastnn.optim` object. ``loss``: a Keras name, a Loss or a callable
        ``fn(y_true, y_pred)`` returning a fastnn tensor (per-sample values are averaged).
        ``metrics``: names ("accuracy"/"acc" follow the loss: binary, categorical or sparse
        categorical accuracy; "auc", "precision", "recall", "top_k_categorical_accuracy",
        ...), callables ``fn(y_true, y_pred)`` on numpy arrays, or objects with
        update_state/result/reset_state (:mod:`fastnn.metrics`: ``AUC``, ``Precision``,
        ...). As in Keras 3 these ignore sample weights; ``weighted_metrics`` (same forms)
        are weighted by them (logged as ``weighted_<name>`` where a name is in both).
        ``capture``: record the training step once and replay it (``capture=False`` or
        ``run_eagerly=True`` for models whose ``call`` branches on the data).
        """
        if loss_weights is not None:
            raise ValueError("compile: loss_weights weights the losses of a model's several "
                             "outputs (a functional keras.Model(inputs, [out1, out2])); this "
                             f"model has one output, got loss_weights={loss_weights!r} (scale "
                             "the loss or the learning rate instead)")
        if optimizer is None:
            raise ValueError("compile: optimizer must be given (a name such as 'adam' or an "
                             "optimizer object), got None")
        opt = _optimizers.get(optimizer, who="compile: optimizer")
        loss_fn = None if loss is None else _losses.get(loss, who="compile: loss")
        metrics = _metric_list(metrics, "metrics")
        weighted = _metric_list(weighted_metrics, "weighted_metrics")
        specs = [_Metric(m, loss_fn) for m in metrics]
        shared = [m for m in weighted if any(m is other for other in metrics)
                  and not isinstance(m, str)]
        if shared:
            raise ValueError("compile: the same metric object is in metrics and "
                             "weighted_metrics; pass two objects (one state each)")
        plain = {m.name for m in specs}
        for m in weighted:
            spec = _Metric(m, loss_fn, weighted=True)
            if spec.name in plain:  # Keras 3 names the weighted one weighted_<name>
                spec.name = "weighted_" + spec.name
            specs.append(spec)
        names = [m.name for m in specs]
        duplicate = sorted({n for n in names if names.count(n) > 1})
        if duplicate or "loss" in names:
            raise ValueError(f"compile: metric names must be unique and not 'loss', got "
                             f"{names}")
        if isinstance(opt, _optimizers.Optimizer):
            if opt._model is not self or opt._optim is None:
                opt.build(self.parameters())
                opt._model = self
        elif isinstance(opt, _optim.Optimizer):
            pass  # already holds the parameters it updates
        self.optimizer = opt
        self.loss = loss_fn
        self._metric_specs = specs
        self._capture = bool(capture) and not run_eagerly
        self._captured.clear()  # plans hold the previous optimizer and loss
        self._compile_args = {"optimizer": optimizer, "loss": loss, "metrics": list(metrics),
                              "capture": self._capture}
        if weighted:
            self._compile_args["weighted_metrics"] = list(weighted)
        self._compiled = True

    @property
    def compiled(self):
        return self._compiled

    @property
    def metrics_names(self):
        return ["loss"] + [m.name for m in getattr(self, "_metric_specs", [])]

    def _require_compiled(self, who):
        if not self._compiled:
            raise RuntimeError(f"{who}: the model must be compiled first; call "
                               "model.compile(optimizer=..., loss=...) before "
                               f"{who.split('.')[-1]}()")
        if self.loss is None:
            raise ValueError(f"{who}: the model was compiled without a loss; pass loss=... to "
                             "compile (e.g. 'sparse_categorical_crossentropy')")

    # --- steps (the seam a captured step replaces) ------------------------------------------

    def _compute_loss(self, y_pred, y, sample_weight=None):
        loss = loss_value(self.loss, y_pred, y, sample_weight)
        for penalty in self.losses:
            loss = loss + penalty
        return loss

    def _step_forward(self, x, training):
        """The model's output for a training, test or predict step (a functional model with
        several outputs gives them as a tuple)."""
        return self(x, training=training)

    def _tensor(self, a):
        """A batch as a tensor on the model's device (on the CPU without a copy: batches are
        contiguous arrays of the model's dtype, prepared once before the loop; labels keep
        their own dtype). Rows of a dataset fit uploaded are gathered on the device."""
        if isinstance(a, Tensor) or a is None:
            return a
        if isinstance(a, Rows) and a.on_device:
            return a.tensor()
        t = _C.from_numpy(np.asarray(a), np.dtype(a.dtype).name)
        return t if self._device == "cpu" else t.to_device(self._device)

    def _eager_train_step(self, x, y, w=None):
        """One training step, op by op: returns (loss, y_pred). ``w``: sample weights."""
        x, y, w = self._tensor(x), self._tensor(y), self._tensor(w)
        y_pred = self._step_forward(x, True)
        loss = self._compute_loss(y_pred, y, w)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss, y_pred

    def _eager_predict_step(self, x):
        with no_grad():
            return self._step_forward(self._tensor(x), False)

    def _eager_test_step(self, x, y, w=None):
        x, y, w = self._tensor(x), self._tensor(y), self._tensor(w)
        with no_grad():
            y_pred = self._step_forward(x, False)
            return self._compute_loss(y_pred, y, w), y_pred

    # With compile(capture=True) each step kind is captured once per input signature and
    # replayed (fastnn/capture.py). Gradient clipping in numpy (Keras's clipnorm...) is not
    # part of the recorded kernels, so such optimizers run eagerly.

    def _capturing(self, kind="train"):
        return (self._capture and not getattr(self.optimizer, "clips", False)
                and self._captured.replayable(kind))

    def _structure(self):
        """What captured plans depend on besides the batch: the weights (identity, shape,
        dtype), which of them train, the optimizer and the loss."""
        opt = getattr(self.optimizer, "_optim", None) or self.optimizer  # Keras-style wraps one
        return (id(self.optimizer), id(getattr(opt, "_native", None)), id(self.loss),
                tuple((id(w), w.shape, w.dtype) for w in self.weights),
                tuple(id(w) for w in self.trainable_weights))

    def _check_plans(self):
        """Drops captured plans when the model changed since they were recorded (layers
        added, popped or replaced, weights frozen, a new optimizer or loss)."""
        if self._capture:
            self._captured.validate(self._structure())

    def _rebind_optimizer(self, who):
        """A Keras-style optimizer bound at compile follows the model's trainable weights when
        they changed since (layers added, popped, replaced or frozen), so the new ones train."""
        opt = self.optimizer
        if not (isinstance(opt, _optimizers.Optimizer) and opt._model is self and opt.built
                and self.built):
            return
        bound = opt._bound()
        if bound._native is None:  # never stepped yet: binds its parameters at the first step
            return
        bound_params, current = bound._native.params, self.trainable_weights
        if len(bound_params) != len(current) or not all(
                p._same_storage(q) for p, q in zip(bound_params, current)):
            warnings.warn(f"{who}: the model's trainable weights changed since compile; the "
                          "optimizer now updates the new set and its state (moments, step "
                          "counts) restarts, as after compile", stacklevel=3)
            opt.build(self.parameters())

    def _refused(self, kind, reason):
        if len(self._captured.refused) == 1:  # once per model
            warnings.warn(f"{type(self).__name__}: this model's {kind} step cannot be captured "
                          f"and replayed because {reason}; it runs eagerly, step by step (same "
                          "results, slower). Pass compile(capture=False) to choose this and "
                          "silence this warning.", stacklevel=4)

    def _train_step(self, x, y, w=None):
        inputs = (x, y) if w is None else (x, y, w)  # weights: the plan's third input
        if not self._capturing("train"):
            return self._eager_train_step(*inputs)
        return self._captured.run(
            "train", self._eager_train_step, inputs, params=lambda: self.trainable_weights,
            before_replay=self.optimizer._sync, ready=lambda: self.built,
            on_refusal=self._refused, device=self._device)

    def _predict_step(self, x):
        if not self._capturing("predict"):
            return self._eager_predict_step(x)
        return self._captured.run("predict", self._eager_predict_step, (x,),
                                  ready=lambda: self.built, on_refusal=self._refused, device=self._device)

    def _test_step(self, x, y, w=None):
        inputs = (x, y) if w is None else (x, y, w)
        if not self._capturing("test"):
            return self._eager_test_step(*inputs)
        return self._captured.run("test", self._eager_test_step, inputs,
                                  ready=lambda: self.built, on_refusal=self._refused, device=self._device)

    def _accumulator(self, who):
        """What sums a pass's loss and metrics (one per epoch, validation or evaluation)."""
        return _Accumulator(self._metric_specs, who, self._device)

    @property
    def _captured(self):
        steps = self.__dict__.get("_step_capture")
        if steps is None:
            steps = self.__dict__["_step_capture"] = StepCapture()
        return steps

    # --- fit --------------------------------------------------------------------------------

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Trains for ``epochs`` epochs; returns a :class:`History`.

        ``x`` and ``y``: numpy arrays (``batch_size`` defaults to 32; the last, smaller batch
        is trained on), or x as an ``(x, y)`` tuple, a :class:`fastnn.data.DataLoader` or any
        iterable of ``(x, y)`` batches (a one-shot generator needs ``steps_per_epoch``).
        ``validation_split`` holds out the last fraction of the arrays (before shuffling);
        ``validation_data`` is ``(x_val, y_val)``, ``(x_val, y_val, sample_weight_val)`` or a
        DataLoader. ``verbose``: 0 silent, 1 a live progress bar per epoch in a terminal (one
        plain line per epoch when stdout is a file or pipe), 2 one line per epoch
        (fastnn/progress.py).

        ``sample_weight``: one weight per sample ((N,), or (N, T) for sequence outputs);
        batches of an iterable may carry them as ``(x, y, w)``. ``class_weight``: a dict
        {class index: weight} (or a sequence with one weight per class) turned into
        per-sample weights from the labels (integer labels, the argmax of one-hot rows, or
        rounded binary targets; 1.0 for classes left out), for the training data only. The
        loss is then Keras's sum(w * loss) / batch size (not / sum(w)); metrics stay
        unweighted unless compiled as ``weighted_metrics``.
        """
        who = "fit"
        self._require_compiled(who)
        epochs = _check_int(who, "epochs", epochs, 0)
        initial_epoch = _check_int(who, "initial_epoch", initial_epoch, 0)
        steps_per_epoch = _check_int(who, "steps_per_epoch", steps_per_epoch, 1, allow_none=True)
        validation_steps = _check_int(who, "validation_steps", validation_steps, 1, allow_none=True)
        validation_freq = _check_int(who, "validation_freq", validation_freq, 1)
        verbose = _check_verbose(who, verbose)
        if shuffle == "batch":
            shuffle = True
        if not isinstance(shuffle, (bool, np.bool_)):
            raise ValueError(f"fit: expected shuffle to be True or False, got {shuffle!r}")
        if (isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real)
                or not 0.0 <= validation_split < 1.0):
            raise ValueError("fit: validation_split must be a fraction in [0, 1) (0 means no "
                             f"validation split), got {validation_split!r}")
        if callbacks is None:
            callbacks = []
        elif not isinstance(callbacks, (list, tuple)):
            callbacks = [callbacks]

        # Convert and check everything (labels over the whole dataset) before the first step.
        source = self._prepared(who, self._adapt(who, x, y, batch_size, need_y=True,
                                                 shuffle=bool(shuffle),
                                                 sample_weight=sample_weight))
        val_source = None
        if validation_data is not None:
            val_source = self._prepared("fit: validation_data", self._validation_source(
                validation_data, validation_batch_size))
        elif validation_split > 0:
            if not source.arrays:
                raise ValueError("fit: validation_split needs x and y as arrays; with a "
                                 "DataLoader or an iterable of batches pass validation_data")
            n = len(source.x)
            split_at = int(math.floor(n * (1.0 - validation_split)))
            if split_at == 0 or split_at == n:
                raise ValueError(f"fit: validation_split={validation_split} of {n} samples "
                                 f"leaves {split_at} for training and {n - split_at} for "
                                 "validation; both need at least one")
            w = source.w
            val_source = _Source("arrays", source.x[split_at:], source.y[split_at:],
                                 validation_batch_size or source.batch_size,
                                 w=None if w is None else w[split_at:])
            source = _Source("arrays", source.x[:split_at], source.y[:split_at],
                             source.batch_size, source.shuffle,
                             w=None if w is None else w[:split_at])
        if class_weight is not None:  # the training data only, as Keras
            source = self._with_class_weight(who, source, class_weight)
        if source.one_shot() and steps_per_epoch is None and epochs - initial_epoch > 1:
            warnings.warn("fit: x is a one-shot iterator without steps_per_epoch; it will be "
                          "used up in the first epoch", stacklevel=2)

        source = self._on_device(who, source)
        if val_source is not None:
            val_source = self._on_device("fit: validation_data", val_source)
        steps = source.num_batches()
        if steps_per_epoch is not None:
            steps = steps_per_epoch if steps is None else min(steps, steps_per_epoch)
        self._rebind_optimizer(who)
        history = History()
        params = {"verbose": verbose, "epochs": epochs, "steps": steps}
        # History last, as Keras appends it: it records what the others add ("learning_rate").
        cbs = _Callbacks(list(callbacks) + [history], self, params)
        self.history = history
        self.stop_training = False
        progress = Progress("fit", verbose, steps, epochs)
        cbs("on_train_begin", {})
        logs = {}
        batch_begin = cbs.wants("on_train_batch_begin")
        batch_end = cbs.wants("on_train_batch_end")
        for epoch in range(initial_epoch, epochs):
            cbs("on_epoch_begin", epoch, {})
            self._check_plans()
            start = time.perf_counter()
            acc = self._accumulator(who)
            progress.begin(epoch)
            if (source.arrays and steps_per_epoch is None and not batch_begin and not batch_end
                    and self._capturing()):
                self._fit_epoch_replayed(source, acc, progress)
            else:
                for step, (xb, yb, wb) in enumerate(self._batches(
                        source, steps=steps_per_epoch, who=who, weights=True)):
                    if batch_begin:
                        cbs("on_train_batch_begin", step, {})
                    loss, y_pred = self._train_step(xb, yb, wb)
                    acc.update(loss, y_pred, yb, wb)
                    progress.advance(1, acc)
                    if batch_end:
                        cbs("on_train_batch_end", step, acc.result())
                    if self.stop_training:  # set by a batch hook: Keras ends the epoch here
                        break
            if acc.samples == 0:
                progress.close()
                if epoch == initial_epoch:
                    raise ValueError("fit: x yielded no batches (an empty or used-up iterable)")
                warnings.warn(f"fit: the input ran out of data in epoch {epoch + 1}; training "
                              "stops (pass steps_per_epoch or a re-iterable DataLoader)",
                              stacklevel=2)
                break
            logs = acc.result()
            if val_source is not None and (epoch + 1 - initial_epoch) % validation_freq == 0:
                logs.update(self._evaluate_source(val_source, validation_steps,
                                                  "fit: validation_data", prefix="val_"))
            elapsed = time.perf_counter() - start
            cbs("on_epoch_end", epoch, logs)
            progress.end(logs, elapsed, epoch)
            if self.stop_training:
                break
        cbs("on_train_end", logs)
        return history

    def _fit_epoch_replayed(self, source, acc, progress=None):
        """One epoch over arrays with nothing to do in Python between steps (no per-batch
        callbacks): the full batches replay in one C++ call that gathers each batch itself
        (the first one runs through ``_train_step`` when it still has to be captured; with
        a learning-rate schedule, one call per run of steps at the same rate), and a last,
        smaller batch runs through ``_train_step``. The batches, their order, the
        accumulation and the results are those of the step-by-step loop. A live progress
        bar splits the replay into calls of ~0.1 s each (``Progress.chunks``) to redraw
        between them; the same batches run in the same order."""
        if progress is None:
            progress = Progress("fit", 0)
        x, y, w, b = source.x, source.y, source.w, source.batch_size
        arrays = self._replay_arrays(source)
        n = len(x)
        order = permutation(n) if source.shuffle else np.arange(n, dtype=np.int64)
        full = n // b

        def step(lo, hi):
            rows = order[lo:hi]
            xb, yb = Rows(x, rows), Rows(y, rows)
            wb = None if w is None else Rows(w, rows)
            loss, y_pred = self._train_step(xb, yb, wb)
            acc.update(loss, y_pred, yb, wb)
            progress.advance(1, acc)

        done = 0
        if full and self._captured.outputs_for_rows("train", arrays, b) is None:
            step(0, b)  # captures the plan (or finds the model must train eagerly)
            done = 1
        if done < full:
            outputs = (self._captured.outputs_for_rows("train", arrays, b)
                       if self._capturing() else None)
            specs = self._replay_specs(acc, outputs, source) if outputs is not None else None
            k = done
            while k < full:
                # A learning-rate schedule replays in runs of steps that share a rate; a live
                # progress bar cuts each run into calls of ~0.1 s.
                run = self.optimizer._replay_steps(full - k) if specs is not None else 0
                if run:
                    for first, count in progress.chunks(k, run, acc):
                        self._replay_train(arrays, order, b, first, count, acc, specs)
                        acc.add_replayed(count * b)
                    k += run
                else:  # no plan, a metric only numpy computes, clipping, a new rate
                    step(k * b, (k + 1) * b)
                    k += 1
        if n % b:
            step(full * b, n)

    # What _fit_epoch_replayed hands the plan; a model with several inputs or outputs
    # (structured.py) gives its own.
    def _replay_arrays(self, source):
        """The sources of a captured train step's inputs, in the plan's order."""
        x, y, w = source.x, source.y, source.w
        return (x, y) if w is None else (x, y, w)  # sample weights: a third plan input

    def _replay_specs(self, acc, outputs, source):
        """What replay_batches accumulates beside the loss (the accuracy kernels), or None
        when a metric needs numpy."""
        return acc.native_specs((source.batch_size,) + source.y.shape[1:],
                                tuple(outputs[1].shape), weighted=source.w is not None)

    def _replay_train(self, arrays, order, b, first, count, acc, specs):
        """Replays batches first .. first + count of ``order`` in one call."""
        self._captured.replay_batches("train", arrays, order, b, first * b, count, acc.totals,
                                      specs)

    def _evaluate_source(self, source, steps, who, prefix="", progress=None):
        self._check_plans()
        acc = self._accumulator(who)
        for xb, yb, wb in self._batches(source, shuffle=False, steps=steps, who=who,
                                        weights=True):
            loss, y_pred = self._test_step(xb, yb, wb)
            acc.update(loss, y_pred, yb, wb)
            if progress is not None:
                progress.advance(1, acc)
        if acc.samples == 0:
            raise ValueError(f"{who}: no batches to evaluate (an empty or used-up iterable; "
                             "pass a DataLoader, arrays, or steps)")
        return acc.result(prefix)

    # --- evaluate / predict ---------------------------------------------------------------------

    def evaluate(self, x=None, y=None, batch_size=None, verbose=0, sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """The loss (with regularization penalties), or [loss, *metrics] when metrics were
        compiled; exact means over the dataset (batch size defaults to 32).
        ``sample_weight`` weights the loss (Keras's sum(w * loss) / batch size) and the
        weighted_metrics, as in fit. ``verbose=1``: a progress bar in a terminal (else one
        line), 2: one line."""
        who = "evaluate"
        self._require_compiled(who)
        verbose = _check_verbose(who, verbose)
        steps = _check_int(who, "steps", steps, 1, allow_none=True)
        source = self._on_device(who, self._prepared(who, self._adapt(
            who, x, y, batch_size, need_y=True, sample_weight=sample_weight)))
        total = source.num_batches()
        progress = Progress(who, verbose, total if steps is None or total is None
                            else min(steps, total))
        start = time.perf_counter()
        progress.begin()
        logs = self._evaluate_source(source, steps, who, progress=progress)
        progress.end(logs, time.perf_counter() - start)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """Outputs for x as a numpy array, in batches (32 by default), under no_grad with
        training=False. x: an array, or a DataLoader / iterable of batches (their y unused).
        ``verbose=1``: a progress bar in a terminal (else one line), 2: one line."""
        who = "predict"
        verbose = _check_verbose(who, verbose)
        steps = _check_int(who, "steps", steps, 1, allow_none=True)
        source = self._on_device(who, self._prepared(
            who, self._adapt(who, x, None, batch_size, need_y=False), need_y=False))
        self._check_plans()
        total = source.num_batches()
        progress = Progress(who, verbose, total if steps is None or total is None
                            else min(steps, total))
        start = time.perf_counter()
        progress.begin()
        outputs = []
        for xb, _ in self._batches(source, shuffle=False, steps=steps, who=who, need_y=False):
            out = self._predict_step(xb)
            outputs.append(self._predicted(out))
            progress.advance(1)
        if not outputs:
            raise ValueError(f"{who}: x yielded no batches")
        progress.end(elapsed=time.perf_counter() - start)
        return self._joined(outputs)

    @staticmethod
    def _predicted(out):
        """A predict step's output as numpy (copied: a replayed step reuses its buffers)."""
        return host_copy(out)

    @staticmethod
    def _joined(outputs):
        """predict's result from the batches' ``_predicted`` values."""
        return np.concatenate(outputs, axis=0)

    # --- single batches (Keras's *_on_batch) ----------------------------------------------------

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict=False):
        who = "train_on_batch"
        self._require_compiled(who)
        source = self._prepared(who, self._adapt(who, x, y, self._rows_of(x), need_y=True,
                                                 sample_weight=sample_weight))
        if class_weight is not None:
            source = self._with_class_weight(who, source, class_weight)
        self._check_plans()
        acc = self._accumulator(who)
        for xb, yb, wb in self._batches(source, shuffle=False, who=who, weights=True):
            loss, y_pred = self._train_step(xb, yb, wb)
            acc.update(loss, y_pred, yb, wb)
        return self._returned(acc.result(), return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        who = "test_on_batch"
        self._require_compiled(who)
        source = self._prepared(who, self._adapt(who, x, y, self._rows_of(x), need_y=True,
                                                 sample_weight=sample_weight))
        return self._returned(self._evaluate_source(source, None, who), return_dict)

    def predict_on_batch(self, x):
        x = self._prepare_x("predict_on_batch", self._check_array("predict_on_batch", x, "x"))
        return host_copy(self._predict_step(x))

    @staticmethod
    def _rows_of(x):
        """The number of samples in train_on_batch's / test_on_batch's x (one batch)."""
        return len(np.asarray(x)) or 1

    @staticmethod
    def _returned(logs, return_dict):
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    # --- summary --------------------------------------------------------------------------------

    def _summary_output_shapes(self):
        return last_output_shapes(self)

    def _summary_connections(self):
        """The summary's "Connected to" cells, one per layer (functional models), or None."""
        return None

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Prints a Keras-like table: Layer (type), Output Shape, Param #, and the totals."""
        print_summary(self, line_length, print_fn, show_trainable)


__all__ = ["TrainingMixin", "History"]
