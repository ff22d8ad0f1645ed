"""The CUDA kernels of cuda/loss.cu, cuda/metrics.cu, cuda/optim.cu, cuda/random.cu and
cuda/dropout.cu against the CPU backend on the same inputs, through the public API that
reaches each Backend method: losses forward and backward, the accuracy and loss totals, every
optimizer over several steps (also replayed from a plan, with the learning rate changed
between replays), rand/randn and dropout masks for the same seed, and bad labels.

Tolerances are relative to the size of the compared array (atol = rtol * max(1, max|cpu|)):
- float64: 1e-12 where each value is a few operations on its own (elementwise loss
  gradients, optimizer updates: CUDA's pow may differ from glibc's by an ulp in Adam's bias
  corrections), 1e-10 where a row is summed (losses; the GPU sums a row in another fixed
  order: a warp's lanes, then a butterfly).
- float32: 2e-6 for values computed on their own (CUDA's expf and the CPU's vectorised
  polynomial are each within 2 ulp), 1e-5 for row sums and cross-entropies (up to 1000
  float32 terms in another order, and a log-sum-exp built from those exps), 1e-5 for
  optimizer trajectories (a few ulp per step, compounded over the steps).
- Philox draws: rand and dropout masks are exact (integer arithmetic, one fma);
  float64 randn agrees to 1e-14 (CUDA's log and cos are within 1 and 2 ulp of glibc's),
  float32 randn to one float32 ulp (a double rounded to float: nearly always equal).
- Accuracy counts are exact; the binary accuracy's fractions are summed in another order.
"""

import numpy as np
import pytest

import fastnn as fn
from fastnn import _C
from fastnn import losses as L
from fastnn import optim, optimizers

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not fn.cuda.is_available(), reason="no CUDA device")]

DTYPES = ["float32", "float64"]
ELEMENTWISE = {"float32": 2e-6, "float64": 1e-12}
SUMS = {"float32": 1e-5, "float64": 1e-10}
DEVICES = ("cpu", "cuda")


def on(device, array, dtype="float64", grad=False):
    return fn.tensor(np.asarray(array), dtype=dtype, device=device, requires_grad=grad)


def close(got, expected, rtol):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    finite = np.isfinite(expected)
    scale = max(1.0, float(np.abs(expected[finite]).max())) if finite.any() else 1.0
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * scale)


# --- losses (loss_forward, loss_backward) --------------------------------------------------

_LOSSES = {
    "mse": lambda: L.MeanSquaredError(reduction="none"),
    "mae": lambda: L.MeanAbsoluteError(reduction="none"),
    "binary": lambda: L.BinaryCrossentropy(reduction="none"),
    "binary-logits": lambda: L.BinaryCrossentropy(from_logits=True, reduction="none"),
    "categorical": lambda: L.CategoricalCrossentropy(reduction="none"),
    "categorical-logits": lambda: L.CategoricalCrossentropy(from_logits=True, reduction="none"),
    "sparse": lambda: L.SparseCategoricalCrossentropy(reduction="none"),
    "sparse-logits": lambda: L.SparseCategoricalCrossentropy(from_logits=True, reduction="none"),
}
# Rows of 1 to 1000 classes: fewer than a warp's lanes, one more than them, many per lane.
_SHAPES = [(1, 1), (7, 3), (33, 2), (2, 3, 5), (5, 33), (300, 17), (3, 1000)]


def make_data(name, shape, rng, label_dtype="int64"):
    """Predictions and matching targets; soft targets for the categorical kinds, and
    probabilities down to the clip bounds."""
    c = shape[-1]
    if name.endswith("logits") or name in ("mse", "mae"):
        pred = rng.standard_normal(shape) * 3
    elif name == "binary":
        pred = rng.uniform(0.0, 1.0, shape)
    else:
        pred = rng.uniform(0.0, 1.0, shape)  # rows not normalised: Keras divides by the sum
    if name.startswith("sparse"):
        target = rng.integers(0, c, size=shape[:-1]).astype(label_dtype)
    elif name.startswith("categorical"):
        target = rng.uniform(0, 1, shape) * (rng.uniform(size=shape) > 0.3)  # soft, some 0
    elif name.startswith("binary"):
        target = rng.integers(0, 2, size=shape).astype(np.float64)
    else:
        target = rng.standard_normal(shape)
    return pred, target


def loss_on(device, name, pred, target, dtype, weight, label_dtype=None):
    """The per-sample losses and the gradient of sum(weight * loss) on `device`."""
    x = on(device, pred, dtype, grad=True)
    t = on(device, target, label_dtype or dtype)
    out = _LOSSES[name]()(x, t)
    assert out.device.startswith(device)
    values = np.array(out.numpy())
    out.backward(on(device, weight, dtype))
    return values, np.array(x.grad.numpy())


def compare_loss(name, pred, target, dtype, label_dtype=None, seed=0):
    if name.startswith("sparse") and label_dtype is None:
        label_dtype = "int64"
    weight = np.random.default_rng(seed).standard_normal(np.shape(pred)[:-1]) + 2
    cpu = loss_on("cpu", name, pred, target, dtype, weight, label_dtype)
    gpu = loss_on("cuda", name, pred, target, dtype, weight, label_dtype)
    close(gpu[0], cpu[0], SUMS[dtype])
    elementwise = name in ("mse", "mae", "binary", "binary-logits")
    close(gpu[1], cpu[1], (ELEMENTWISE if elementwise else SUMS)[dtype])
    return gpu


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", _SHAPES, ids=str)
@pytest.mark.parametrize("name", list(_LOSSES))
def test_loss(name, shape, dtype):
    if (name.startswith("categorical") or name.startswith("sparse")) and shape[-1] == 1:
        shape = (1, 2)
    pred, target = make_data(name, shape, np.random.default_rng(1))
    compare_loss(name, pred, target, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["binary", "categorical", "sparse"])
def test_probabilities_at_and_past_the_clip_bounds(name, dtype):
    """Clipped probabilities (exact 0 and 1, values within 1e-7 of them) have the CPU's
    loss and a zero derivative where clipping is active."""
    pred = np.array([[0.0, 1.0, 0.5, 1e-9], [1 - 1e-9, 0.3, 0.0, 0.2], [0.25, 0.25, 0.25, 0.25]])
    if name == "binary":
        target = np.array([[0, 1, 1, 0], [1, 0, 1, 1], [0, 1, 0, 1]], dtype=np.float64)
    elif name == "categorical":
        target = np.eye(4)[[1, 2, 3]]
    else:
        target = np.array([0, 2, 3])
    _, grad = compare_loss(name, pred, target, dtype)
    if name == "binary":
        assert grad[0, 0] == 0 and grad[0, 1] == 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["categorical-logits", "sparse-logits", "binary-logits"])
def test_large_logits(name, dtype):
    rng = np.random.default_rng(2)
    pred = rng.standard_normal((9, 40)) * 30 + 1e3
    pred[0, 5] += 200
    _, target = make_data(name, pred.shape, rng)
    compare_loss(name, pred, target, dtype)


@pytest.mark.parametrize("label_dtype", ["int32", "int64", "float32", "float64"])
@pytest.mark.parametrize("name", ["sparse", "sparse-logits"])
def test_sparse_label_dtypes_and_column_labels(name, label_dtype):
    rng = np.random.default_rng(3)
    pred, labels = make_data(name, (37, 6), rng)
    compare_loss(name, pred, labels, "float64", label_dtype)
    compare_loss(name, pred, labels[:, None], "float32", label_dtype)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_reductions(reduction, dtype):
    rng = np.random.default_rng(4)
    pred, labels = make_data("sparse-logits", (65, 10), rng)
    results = {}
    for device in DEVICES:
        x = on(device, pred, dtype, grad=True)
        out = L.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)(
            x, on(device, labels, "int64"))
        out.backward()
        results[device] = (np.array(out.numpy()), np.array(x.grad.numpy()))
    close(results["cuda"][0], results["cpu"][0], SUMS[dtype])
    close(results["cuda"][1], results["cpu"][1], SUMS[dtype])


def test_losses_are_deterministic():
    rng = np.random.default_rng(5)
    pred, target = make_data("categorical-logits", (200, 999), rng)
    weight = rng.standard_normal(200)
    first = loss_on("cuda", "categorical-logits", pred, target, "float32", weight)
    for _ in range(3):
        again = loss_on("cuda", "categorical-logits", pred, target, "float32", weight)
        np.testing.assert_array_equal(again[0], first[0])
        np.testing.assert_array_equal(again[1], first[1])


@pytest.mark.parametrize("name", ["sparse", "sparse-logits"])
def test_a_bad_label_raises_index_error(name):
    pred = np.random.default_rng(6).uniform(0.1, 1, (4, 5))
    for labels, dtype in (([0, 5, 1, 2], "int64"), ([0, 1, -1, 2], "int32"),
                          ([0, 1, 2.5, 2], "float64")):
        messages = {}
        for device in DEVICES:
            with pytest.raises(IndexError) as info:
                _LOSSES[name]()(on(device, pred, "float32", grad=True), on(device, labels, dtype))
            messages[device] = str(info.value)
        assert messages["cuda"] == messages["cpu"]


def check_cuda_kernel_errors(who):
    """Reads (and clears) the CUDA device's kernel_errors: IndexError for a recorded one."""
    _C.check_kernel_errors(who, device="cuda")


@pytest.mark.parametrize("name", ["sparse", "sparse-logits"])
def test_a_bad_label_reaching_a_replayed_loss_gives_nan_a_zero_gradient_and_a_report(name):
    """Labels the host never checked (changed in place between replays) are checked by the
    kernels: the row's loss is NaN, its gradient zero, and the label is reported."""
    rng = np.random.default_rng(7)
    pred = rng.uniform(0.1, 1.0, (6, 5))
    good = np.array([0.0, 4.0, 1.0, 2.0, 3.0, 1.0])
    weight = rng.standard_normal(6) + 2
    x = on("cuda", pred, "float64", grad=True)
    # Float labels that an SGD step with lr 1 can change in place: label -= (label - new).
    labels = on("cuda", good, "float64", grad=True)
    set_labels = optim.SGD([labels], lr=1.0)
    upstream = on("cuda", weight)  # made before the capture: numpy data inside refuses it
    plan = _C.Plan()
    plan.begin_capture()
    out = _LOSSES[name]()(x, labels)
    out.backward(upstream)
    plan.end_capture([x])
    assert plan.refusal == ""
    expected = np.array(out.numpy())
    expected_grad = np.array(x.grad.numpy())

    bad = good.copy()
    bad[3] = 7.0
    labels.grad = on("cuda", good - bad)
    set_labels.step()
    np.testing.assert_array_equal(labels.numpy(), bad)
    plan.replay()
    values, grad = np.array(out.numpy()), np.array(x.grad.numpy())
    assert np.isnan(values[3]) and (grad[3] == 0).all()
    keep = np.arange(6) != 3
    np.testing.assert_array_equal(values[keep], expected[keep])
    np.testing.assert_array_equal(grad[keep], expected_grad[keep])
    with pytest.raises(IndexError, match="7 at position 3"):
        check_cuda_kernel_errors("loss")
    check_cuda_kernel_errors("loss")  # reported once


# --- PyTorch's cross_entropy with class indices (index_crossentropy_forward/backward) -------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted,smoothing", [(False, 0.0), (True, 0.0), (True, 0.2),
                                                (False, 0.1)])
@pytest.mark.parametrize("rows,classes", [(7, 5), (33, 40), (3, 1)])
def test_index_cross_entropy(rows, classes, weighted, smoothing, reduction, dtype):
    rng = np.random.default_rng(rows * classes)
    x = rng.standard_normal((rows, classes)) * 3
    target = rng.integers(0, classes, rows)
    target[::3] = -100  # ignored rows
    weight = rng.uniform(0.2, 2.0, classes) if weighted else None
    g = rng.standard_normal(rows) if reduction == "none" else rng.standard_normal(())
    results = {}
    for device in DEVICES:
        xt = on(device, x, dtype, grad=True)
        w = None if weight is None else on(device, weight, dtype)
        out = _C.index_cross_entropy(xt, fn.tensor(target, dtype="int64", device=device), w,
                                     -100, smoothing, reduction)
        out.backward(on(device, g, dtype))
        results[device] = (np.array(out.numpy()), np.array(xt.grad.numpy()))
    close(results["cuda"][0], results["cpu"][0], SUMS[dtype])
    close(results["cuda"][1], results["cpu"][1], SUMS[dtype])


def test_index_cross_entropy_reports_a_bad_label_a_replay_brings():
    rng = np.random.default_rng(8)
    x = on("cuda", rng.standard_normal((6, 4)), "float64", grad=True)
    labels = fn.tensor(np.array([0, 3, -100, 1, 2, 1]), device="cuda")
    upstream = on("cuda", np.ones(6))  # made before the capture: numpy data inside refuses it
    plan = _C.Plan()
    plan.begin_capture()
    out = _C.index_cross_entropy(x, labels, None, -100, 0.0, "none")
    out.backward(upstream)
    plan.end_capture([x])
    assert plan.refusal == ""
    labels.copy_(fn.tensor(np.array([0, 3, -100, 9, 2, 1]), device="cuda"))
    plan.replay()
    values, grad = np.array(out.numpy()), np.array(x.grad.numpy())
    assert np.isnan(values[3]) and (grad[3] == 0).all() and values[2] == 0 and (grad[2] == 0).all()
    with pytest.raises(IndexError, match="9 at position 3"):
        check_cuda_kernel_errors("cross_entropy")


# --- totals (accuracy_accumulate, loss_accumulate) -----------------------------------------

def accuracy_on(device, name, threshold, pred, target, dtype, target_dtype, repeats=1):
    total = on(device, [0.0])
    p, t = on(device, pred, dtype), on(device, target, target_dtype)
    for _ in range(repeats):
        _C.accumulate_accuracy(name, threshold, p, t, total)
    return float(np.asarray(total.numpy())[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (33, 40), (3000, 10), (5, 1000)], ids=str)
def test_accuracies(shape, dtype):
    rng = np.random.default_rng(8)
    n, c = shape
    pred = rng.standard_normal(shape)
    pred[: n // 2, -1] = pred[: n // 2, 0] = 5.0  # ties: the first index wins, as numpy's
    if n > 2:
        pred[1, 0] = np.nan  # a NaN first: argmax 0
        pred[2, -1] = np.nan  # a NaN later is passed over
    labels = rng.integers(0, c, n)
    labels[: n // 3] = np.nanargmax(np.where(np.isnan(pred), -np.inf, pred), axis=1)[: n // 3]
    one_hot = np.eye(c)[labels]
    binary = rng.integers(0, 2, shape)
    cases = [("sparse_categorical_accuracy", 0.5, labels, "int64"),
             ("sparse_categorical_accuracy", 0.5, labels, "float32"),
             ("categorical_accuracy", 0.5, one_hot, dtype),
             ("binary_accuracy", 0.5, binary, "int32"),
             ("binary_accuracy", 0.0, binary, "float64")]
    for name, threshold, target, target_dtype in cases:
        got, expected = (accuracy_on(device, name, threshold, pred, target, dtype, target_dtype,
                                     repeats=2) for device in DEVICES)
        if name == "binary_accuracy":
            np.testing.assert_allclose(got, expected, rtol=1e-12)
        else:
            assert got == expected, name
        assert 0 <= got <= 2 * n


def test_sparse_accuracy_against_numpy():
    rng = np.random.default_rng(9)
    pred = rng.standard_normal((500, 7)).round(1)  # many ties
    labels = rng.integers(0, 7, 500)
    expected = float((pred.argmax(axis=1) == labels).sum())
    assert accuracy_on("cuda", "sparse_categorical_accuracy", 0.5, pred, labels, "float32",
                       "int32") == expected


@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_totals(dtype):
    values = [0.5, 1.25, np.nan, 2.0, np.inf, 3.0]
    totals = {}
    for device in DEVICES:
        t = on(device, [0.0, -1.0, 0.0])
        for v in values:
            _C.accumulate_loss(on(device, [v], dtype), 32.0, t)
        totals[device] = np.array(t.numpy())
    np.testing.assert_array_equal(totals["cuda"], totals["cpu"])
    assert totals["cuda"][1] == 2 and totals["cuda"][2] == len(values)
    t = on("cuda", [0.0, -1.0, 0.0])
    for v in (0.25, 0.5):
        _C.accumulate_loss(on("cuda", [v], dtype), 3.0, t)
    np.testing.assert_array_equal(t.numpy(), [2.25, -1.0, 2.0])


# --- optimizers (optimizer_update and the per-parameter updates) ----------------------------

# (name, constructor over a parameter list): fastnn.optim (torch's algorithms) and the Keras
# optimizers (epsilon placement, decoupled weight decay) over every flag of the kernels.
_OPTIMIZERS = [
    ("sgd", lambda ps: optim.SGD(ps, lr=0.1)),
    ("sgd-momentum", lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9)),
    ("sgd-dampening", lambda ps: optim.SGD(ps, lr=0.05, momentum=0.8, dampening=0.3)),
    ("sgd-nesterov", lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True)),
    ("sgd-wd", lambda ps: optim.SGD(ps, lr=0.05, momentum=0.5, weight_decay=0.1)),
    ("adam", lambda ps: optim.Adam(ps, lr=0.01)),
    ("adam-betas-eps", lambda ps: optim.Adam(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-3)),
    ("adam-wd", lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.1)),
    ("adam-amsgrad", lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.05)),
    ("adamw", lambda ps: optim.AdamW(ps, lr=0.01)),
    ("adamw-amsgrad", lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.3, amsgrad=True)),
    ("rmsprop", lambda ps: optim.RMSprop(ps, lr=0.01)),
    ("rmsprop-momentum", lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.9)),
    ("rmsprop-centered", lambda ps: optim.RMSprop(ps, lr=0.01, centered=True, alpha=0.9)),
    ("rmsprop-all", lambda ps: optim.RMSprop(ps, lr=0.01, centered=True, momentum=0.5,
                                             weight_decay=0.1)),
    ("adagrad", lambda ps: optim.Adagrad(ps, lr=0.1)),
    ("adagrad-decay", lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.05)),
    ("adagrad-init-wd", lambda ps: optim.Adagrad(ps, lr=0.1, initial_accumulator_value=0.5,
                                                 weight_decay=0.2)),
    ("keras-sgd", lambda ps: optimizers.SGD(0.05, momentum=0.9, nesterov=True,
                                            weight_decay=0.01).build(ps)),
    ("keras-adam", lambda ps: optimizers.Adam(0.01, epsilon=1e-3, amsgrad=True).build(ps)),
    ("keras-adamw", lambda ps: optimizers.AdamW(0.01, weight_decay=0.1).build(ps)),
    ("keras-rmsprop", lambda ps: optimizers.RMSprop(0.01, momentum=0.5, centered=True,
                                                    epsilon=1e-3, weight_decay=0.05).build(ps)),
    ("keras-adagrad", lambda ps: optimizers.Adagrad(0.1, epsilon=1e-3,
                                                    weight_decay=0.05).build(ps)),
]
_OPT_IDS = [name for name, _ in _OPTIMIZERS]
# Odd sizes, one larger than a block, and one element.
_PARAM_SHAPES = [(3, 7), (7,), (1, 1), (300, 11)]


def _grads(rng, step):
    """Gradients that vary in size and sign, occasionally exactly 0; parameter 1 gets none
    on some steps (it keeps its state and does not count the step)."""
    grads = [rng.standard_normal(s) * (1 + step) * (rng.uniform(size=s) > 0.1)
             for s in _PARAM_SHAPES]
    if step % 3 == 1:
        grads[1] = None
    return grads


def optimize_on(device, make, values, dtype, steps=6, seed=10):
    rng = np.random.default_rng(seed)
    params = [on(device, v, dtype, grad=True) for v in values]
    opt = make(params)
    trajectory = []
    for step in range(steps):
        opt.zero_grad()
        for p, g in zip(params, _grads(rng, step)):
            if g is not None:
                p.grad = on(device, g, dtype)
        opt.step()
        trajectory.append([np.array(p.numpy()) for p in params])
    return trajectory


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,make", _OPTIMIZERS, ids=_OPT_IDS)
def test_optimizer(name, make, dtype):
    rng = np.random.default_rng(11)
    values = [rng.standard_normal(s) for s in _PARAM_SHAPES]
    cpu = optimize_on("cpu", make, values, dtype)
    gpu = optimize_on("cuda", make, values, dtype)
    rtol = {"float32": 1e-5, "float64": 1e-12}[dtype]
    for step, (g, c) in enumerate(zip(gpu, cpu)):
        for a, b in zip(g, c):
            close(a, b, rtol)


@pytest.mark.parametrize("name", ["sgd-nesterov", "adam-amsgrad", "rmsprop-all", "adagrad-decay"])
def test_one_step_updates_many_parameters_of_both_dtypes(name):
    """The CUDA backend updates an optimizer's parameters in multi-tensor launches of up to
    32 tensors, each cut into blocks of 4096 elements: 75 parameters (three launches) of
    float32 and float64 (one set of launches each), empty ones, and sizes that end exactly on
    and just past a block, some without a gradient at some steps."""
    make = dict(_OPTIMIZERS)[name]
    sizes = [0, 1, 4096, 4097, 9000, 5, 0, 3] * 9 + [8193, 2, 1]
    dtypes = ["float32" if i % 3 else "float64" for i in range(len(sizes))]
    rng = np.random.default_rng(13)
    values = [rng.standard_normal(n) for n in sizes]
    grads = [[None if (i + step) % 5 == 0 else rng.standard_normal(n)
              for i, n in enumerate(sizes)] for step in range(4)]
    results = {}
    for device in DEVICES:
        params = [on(device, v, d, grad=True) for v, d in zip(values, dtypes)]
        opt = make(params)
        for step_grads in grads:
            opt.zero_grad()
            for p, g, d in zip(params, step_grads, dtypes):
                if g is not None:
                    p.grad = on(device, g, d)
            opt.step()
        results[device] = [np.array(p.numpy()) for p in params]
    for a, b, d in zip(results["cuda"], results["cpu"], dtypes):
        close(a, b, {"float32": 1e-5, "float64": 1e-12}[d])


@pytest.mark.parametrize("name,make", [c for c in _OPTIMIZERS if not c[0].startswith("keras")],
                         ids=[n for n in _OPT_IDS if not n.startswith("keras")])
def test_replayed_updates_count_steps_and_read_the_learning_rate_on_the_device(name, make):
    """A captured step replayed (on the GPU as one CUDA graph): each replay must count the
    step (Adam's bias corrections, Adagrad's decay) and read the learning rate set since."""
    rng = np.random.default_rng(12)
    values = [rng.standard_normal(s) for s in _PARAM_SHAPES]
    grads = [rng.standard_normal(s) for s in _PARAM_SHAPES]
    results = {}
    for device in DEVICES:
        params = [on(device, v, "float64", grad=True) for v in values]
        opt = make(params)
        for p, g in zip(params, grads):
            p.grad = on(device, g)
        opt._sync()  # the C++ optimizer and its config exist before the capture
        plan = _C.Plan()
        plan.begin_capture()
        opt.step()
        plan.end_capture(params)
        assert plan.refusal == ""
        for lr in (0.05, 0.01, 0.2, 0.0, 0.03):
            opt.param_groups[0]["lr"] = lr
            opt._sync()  # what fit does before replaying (pushes the config to its tensor)
            plan.replay()
        state = opt.state_dict()["state"]
        results[device] = ([np.array(p.numpy()) for p in params],
                           [state.get(i, {}).get("step") for i in range(len(params))])
    for a, b in zip(results["cuda"][0], results["cpu"][0]):
        close(a, b, 1e-12)
    assert results["cuda"][1] == results["cpu"][1]


# --- random draws (random_uniform, random_normal) ------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 5, 1000, 100_003])
def test_rand_and_randn_are_the_cpus_numbers(n, dtype):
    draws = {}
    for device in DEVICES:
        fn.manual_seed(123)
        u = np.array(fn.rand(n, dtype=dtype, device=device).numpy())
        z = np.array(fn.randn(n, dtype=dtype, device=device).numpy())
        w = np.array(_C.uniform([n], -2.5, 3.25, dtype, device=device).numpy())
        g = np.array(_C.normal([n], 0.5, 2.0, dtype, device=device).numpy())
        after = np.array(fn.rand(3, device=device).numpy())  # the generator advanced by each
        draws[device] = (u, z, w, g, after)
    cpu, gpu = draws["cpu"], draws["cuda"]
    np.testing.assert_array_equal(gpu[0], cpu[0])
    np.testing.assert_array_equal(gpu[2], cpu[2])
    np.testing.assert_array_equal(gpu[4], cpu[4])
    for i in (1, 3):
        # The same numbers up to CUDA's log and cos (an ulp or two of the double): in
        # float32 the rounding hides that but for the rare value at a rounding boundary.
        close(gpu[i], cpu[i], 2e-7 if dtype == "float32" else 1e-14)
        if dtype == "float32":
            assert (gpu[i] == cpu[i]).mean() > 0.999
    assert (gpu[0] >= 0).all() and (gpu[0] < 1).all()
    assert (gpu[2] >= -2.5).all() and (gpu[2] < 3.25).all()


def test_uniform_stays_below_high_in_float32():
    """Rounding low + (high - low) u to float can land on high: both backends step below."""
    for device in DEVICES:
        fn.manual_seed(0)
        u = np.array(_C.uniform([200_000], 1.0, 1.0 + 2.0**-22, "float32", device=device).numpy())
        assert (u < np.float32(1.0 + 2.0**-22)).all() and (u >= 1.0).all()
    fn.manual_seed(0)
    cpu = np.array(_C.uniform([1000], 1.0, 1.0 + 2.0**-22, "float32").numpy())
    fn.manual_seed(0)
    np.testing.assert_array_equal(
        _C.uniform([1000], 1.0, 1.0 + 2.0**-22, "float32", device="cuda").numpy(), cpu)


def test_a_replayed_draw_draws_new_numbers():
    fn.manual_seed(4)
    plan = _C.Plan()
    plan.begin_capture()
    u = fn.rand(10, device="cuda")
    plan.end_capture([])
    first = np.array(u.numpy())
    plan.replay()
    second = np.array(u.numpy())
    fn.manual_seed(4)
    expected = np.array(fn.rand(20).numpy())
    np.testing.assert_array_equal(np.concatenate([first, second]), expected)


# --- dropout (dropout_forward, dropout_backward) -------------------------------------------

def dropout_on(device, x, rate, dtype, weight, noise_shape=None, seed=5):
    fn.manual_seed(seed)
    t = on(device, x, dtype, grad=True)
    y = fn.dropout(t, rate, noise_shape=noise_shape)
    out = np.array(y.numpy())
    (y * on(device, weight, dtype)).sum().backward()
    after = np.array(fn.rand(3, device=device).numpy())
    return out, np.array(t.grad.numpy()), after


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9, 1 - 2.0**-33])
@pytest.mark.parametrize("shape,noise_shape", [
    ((1,), None), ((7, 33), None), ((5,), None), ((4, 6, 6, 3), None), ((100_001,), None),
    ((4, 6, 6, 3), (4, 1, 1, 3)), ((3, 9, 5), (1, 9, 1))], ids=str)
def test_dropout_masks_are_the_cpus(shape, noise_shape, rate, dtype):
    rng = np.random.default_rng(13)
    x = rng.uniform(0.5, 2.0, shape)
    weight = rng.standard_normal(shape)
    cpu = dropout_on("cpu", x, rate, dtype, weight, noise_shape)
    gpu = dropout_on("cuda", x, rate, dtype, weight, noise_shape)
    for a, b in zip(gpu, cpu):
        np.testing.assert_array_equal(a, b)
    if rate > 1 - 1e-9:
        assert (gpu[0] == 0).all()  # a threshold of 2^32 keeps nothing


def test_dropout_keeps_the_same_elements_in_both_dtypes():
    x = np.ones((9, 31))
    masks = [dropout_on("cuda", x, 0.3, dtype, x)[0] != 0 for dtype in DTYPES]
    np.testing.assert_array_equal(masks[0], masks[1])
