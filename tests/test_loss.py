"""Losses against a float64 numpy reimplementation of Keras's formulas, finite differences
and PyTorch."""

import numpy as np
import pytest

import fastnn as fn
from fastnn import losses as L

from conftest import check_grad, check_grad_f32, leaf

EPS = 1e-7  # Keras's epsilon


# --- numpy reference (Keras's formulas), per sample ----------------------------------------

def _log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def _one_hot(labels, c):
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    return np.eye(c)[labels]


def ref_loss(kind, from_logits, pred, target, reduction="mean"):
    p = np.asarray(pred, dtype=np.float64)
    if p.ndim == 1:
        p = p[:, None]
    t = np.asarray(target)
    if kind == "sparse":
        t = _one_hot(t, p.shape[-1]).reshape(p.shape)
        kind = "categorical"
    t = t.astype(np.float64).reshape(p.shape)
    if kind == "mse":
        per = ((p - t) ** 2).mean(axis=-1)
    elif kind == "mae":
        per = np.abs(p - t).mean(axis=-1)
    elif kind == "binary" and from_logits:
        per = (np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p)))).mean(axis=-1)
    elif kind == "binary":
        q = np.clip(p, EPS, 1 - EPS)
        per = -(t * np.log(q) + (1 - t) * np.log(1 - q)).mean(axis=-1)
    elif kind == "categorical" and from_logits:
        per = -(t * _log_softmax(p)).sum(axis=-1)
    else:
        q = np.clip(p / p.sum(axis=-1, keepdims=True), EPS, 1 - EPS)
        per = -(t * np.log(q)).sum(axis=-1)
    return {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]


_CLASSES = {
    ("mse", False): L.MeanSquaredError, ("mae", False): L.MeanAbsoluteError,
    ("binary", False): L.BinaryCrossentropy, ("binary", True): L.BinaryCrossentropy,
    ("categorical", False): L.CategoricalCrossentropy,
    ("categorical", True): L.CategoricalCrossentropy,
    ("sparse", False): L.SparseCategoricalCrossentropy,
    ("sparse", True): L.SparseCategoricalCrossentropy,
}
_KINDS = list(_CLASSES)
_KIND_IDS = [f"{k}{'-logits' if lg else ''}" for k, lg in _KINDS]


def make_loss(kind, from_logits, reduction="mean"):
    cls = _CLASSES[(kind, from_logits)]
    if kind in ("mse", "mae"):
        return cls(reduction=reduction)
    return cls(from_logits=from_logits, reduction=reduction)


def make_data(kind, from_logits, rng, shape=(7, 3), label_dtype=np.int64):
    """Predictions away from clip bounds and kinks, and matching targets."""
    c = shape[-1]
    if from_logits:
        pred = rng.standard_normal(shape) * 2
    elif kind in ("binary",):
        pred = rng.uniform(0.05, 0.95, shape)
    elif kind in ("categorical", "sparse"):
        pred = rng.uniform(0.1, 1.0, shape)  # rows not normalised: Keras divides by the sum
    else:
        pred = rng.standard_normal(shape)
    if kind == "sparse":
        target = rng.integers(0, c, size=shape[:-1]).astype(label_dtype)
    elif kind == "categorical":
        target = _one_hot(rng.integers(0, c, size=int(np.prod(shape[:-1]))), c).reshape(shape)
    elif kind == "binary":
        target = rng.integers(0, 2, size=shape).astype(np.float64)
    elif kind == "mae":
        target = pred + rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 1.0, shape)
    else:
        target = rng.standard_normal(shape)
    return pred, target


# --- forward and gradients -----------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kind,from_logits", _KINDS, ids=_KIND_IDS)
@pytest.mark.parametrize("shape", [(7, 3), (1, 1), (2, 3, 5), (33, 2)], ids=str)
def test_loss_forward_and_grad(kind, from_logits, reduction, shape):
    if kind in ("categorical", "sparse") and shape[-1] == 1:
        shape = (1, 2)
    rng = np.random.default_rng(60)
    pred, target = make_data(kind, from_logits, rng, shape)
    loss = make_loss(kind, from_logits, reduction)
    x = leaf(pred)
    out = loss(x, target)
    expected = ref_loss(kind, from_logits, pred, target, reduction)
    assert out.shape == np.shape(expected) and out.dtype == "float64"
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-13, atol=1e-15)
    w = rng.standard_normal(np.shape(expected)) + 2.0
    check_grad(lambda x: (loss(x, target) * w).sum(), [x])
    np.testing.assert_allclose(np.asarray(loss(leaf(pred, "float32"), target)), expected,
                               rtol=2e-6, atol=1e-6)
    check_grad_f32(lambda x: (loss(x, target) * w).sum(), [leaf(pred, "float32")])


@pytest.mark.parametrize("kind,from_logits", [("mse", False), ("mae", False), ("binary", False),
                                              ("binary", True)], ids=str)
@pytest.mark.parametrize("pred_shape,target_shape", [((7, 1), (7,)), ((7,), (7,)), ((7, 1), (7, 1)),
                                                     ((7,), (7, 1))], ids=str)
def test_column_and_flat_targets(kind, from_logits, pred_shape, target_shape):
    rng = np.random.default_rng(61)
    pred, target = make_data(kind, from_logits, rng, (7, 1))
    loss = make_loss(kind, from_logits, "none")
    x = leaf(pred.reshape(pred_shape))
    out = loss(x, target.reshape(target_shape))
    assert out.shape == (7,)
    np.testing.assert_allclose(np.asarray(out), ref_loss(kind, from_logits, pred, target, "none"),
                               rtol=1e-13)
    check_grad(lambda x: make_loss(kind, from_logits)(x, target.reshape(target_shape)), [x])


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("label_dtype", [np.int32, np.int64, np.float32, np.float64])
@pytest.mark.parametrize("column", [False, True])
def test_sparse_label_dtypes_and_layouts(from_logits, label_dtype, column):
    rng = np.random.default_rng(62)
    pred, labels = make_data("sparse", from_logits, rng, (7, 5), label_dtype)
    y = labels.reshape(-1, 1) if column else labels
    loss = L.SparseCategoricalCrossentropy(from_logits=from_logits, reduction="none")
    out = loss(leaf(pred), y)
    np.testing.assert_allclose(np.asarray(out), ref_loss("sparse", from_logits, pred, labels, "none"),
                               rtol=1e-13)
    # the same labels as a fastnn tensor
    out_t = loss(leaf(pred), fn.tensor(y, dtype=np.dtype(label_dtype).name))
    np.testing.assert_array_equal(np.asarray(out_t), np.asarray(out))
    check_grad(lambda x: L.SparseCategoricalCrossentropy(from_logits=from_logits)(x, y), [leaf(pred)])


def test_sparse_equals_categorical_with_one_hot():
    rng = np.random.default_rng(63)
    for from_logits in (False, True):
        pred, labels = make_data("sparse", from_logits, rng, (33, 7))
        a = L.SparseCategoricalCrossentropy(from_logits=from_logits)(leaf(pred), labels)
        b = L.CategoricalCrossentropy(from_logits=from_logits)(leaf(pred), _one_hot(labels, 7))
        np.testing.assert_allclose(a.item(), b.item(), rtol=1e-14)


def test_categorical_probabilities_are_normalised_and_soft_targets():
    rng = np.random.default_rng(64)
    pred = rng.uniform(0.1, 1.0, (7, 3)) * 5  # rows sum to ~8
    target = rng.dirichlet(np.ones(3), size=7)  # soft labels
    loss = L.CategoricalCrossentropy()
    x = leaf(pred)
    np.testing.assert_allclose(loss(x, target).item(),
                               ref_loss("categorical", False, pred, target), rtol=1e-13)
    # scaling a row does not change its loss
    np.testing.assert_allclose(loss(leaf(pred * 3.0), target).item(), loss(x, target).item(),
                               rtol=1e-13)
    check_grad(lambda x: loss(x, target), [x])
    check_grad(lambda x: L.CategoricalCrossentropy(from_logits=True)(x, target), [leaf(pred)])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_probabilities_at_the_clip_bounds(dtype):
    pred = np.array([[0.0], [1.0], [0.0], [1.0], [0.5]])
    target = np.array([[1.0], [0.0], [0.0], [1.0], [1.0]])
    x = leaf(pred, dtype)
    out = L.BinaryCrossentropy(reduction="none")(x, target)
    # Keras's formula evaluated in the prediction's dtype, as Keras evaluates it (in float32
    # 1 - 1e-7 rounds to 1 - 2^-23, so log(1 - q) at q = 1e-7 is -2^-23)
    T = np.dtype(dtype).type
    q = np.clip(pred.astype(dtype), T(EPS), T(1) - T(EPS))
    expected = -(target * np.log(q) + (1 - target) * np.log(T(1) - q))[:, 0]
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-6 if dtype == "float32" else 1e-13)
    assert np.isfinite(np.asarray(out)).all() and np.asarray(out)[0] > 16
    out.sum().backward()
    g = np.asarray(x.grad)
    # zero where the clip is active (what autodiff of Keras's clip gives), -2 at p = 0.5, t = 1
    np.testing.assert_allclose(g[:, 0], [0.0, 0.0, 0.0, 0.0, -2.0], rtol=1e-6)
    # categorical: a class with probability 0 is clipped, not log(0)
    p = np.array([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5]])
    out = L.CategoricalCrossentropy(reduction="none")(leaf(p, dtype), np.eye(3)[[0, 2]])
    np.testing.assert_allclose(np.asarray(out), [-np.log(EPS), -np.log(0.5)], rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_extreme_logits_stay_finite(dtype):
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0]])
    x = leaf(logits, dtype)
    sce = L.SparseCategoricalCrossentropy(from_logits=True, reduction="none")(x, np.array([0, 0]))
    np.testing.assert_allclose(np.asarray(sce), [0.0, 2000.0 + np.log(2)], rtol=1e-6)
    cce = L.CategoricalCrossentropy(from_logits=True, reduction="none")(x, np.eye(3)[[1, 2]])
    np.testing.assert_allclose(np.asarray(cce), [2000.0, np.log(2)], rtol=1e-6)
    bce = L.BinaryCrossentropy(from_logits=True, reduction="none")(x, np.array([[1, 1, 0], [0, 1, 1]]))
    np.testing.assert_allclose(np.asarray(bce), [(1000 + np.log(2)) / 3, 0.0], rtol=1e-6)
    total = sce.sum() + cce.sum() + bce.sum()
    total.backward()
    g = np.asarray(x.grad, dtype=np.float64)
    assert np.isfinite(g).all() and np.abs(g).max() <= 3.0


@pytest.mark.parametrize("offset", [0.0, 1000.0, -3000.0])
def test_float32_cross_entropy_keeps_precision_for_large_logits(offset):
    """Losses of size ~1 keep float32's digits however large the logits (as torch's do)."""
    rng = np.random.default_rng(68)
    logits = (offset + rng.standard_normal((33, 5))).astype(np.float32)
    labels = rng.integers(0, 5, 33)
    ref = ref_loss("sparse", True, logits.astype(np.float64), labels, "none")
    x = leaf(logits, "float32")
    sce = L.SparseCategoricalCrossentropy(from_logits=True, reduction="none")(x, labels)
    np.testing.assert_allclose(np.asarray(sce), ref, rtol=2e-6, atol=2e-6)
    cce = L.CategoricalCrossentropy(from_logits=True, reduction="none")(x, _one_hot(labels, 5))
    np.testing.assert_allclose(np.asarray(cce), ref, rtol=2e-6, atol=2e-6)
    (sce.sum() + cce.sum()).backward()
    e = np.exp(_log_softmax(logits.astype(np.float64)))
    np.testing.assert_allclose(np.asarray(x.grad), 2 * (e - _one_hot(labels, 5)), atol=2e-6)


def test_keras_argument_order_and_keywords():
    rng = np.random.default_rng(65)
    pred, target = make_data("mse", False, rng, (7, 3))
    x = leaf(pred)
    loss = L.MeanSquaredError()
    a = loss(x, target).item()
    assert loss(target, x).item() == a                 # Keras order: the graph is y_pred
    assert loss(y_true=target, y_pred=x).item() == a
    assert loss(x, y_true=target).item() == a
    with pytest.raises(TypeError, match="two arguments"):
        loss(x)


def test_functional_forms_and_get():
    rng = np.random.default_rng(66)
    for name, cls_kind in [("mse", ("mse", False)), ("mean_absolute_error", ("mae", False)),
                           ("binary_crossentropy", ("binary", False)),
                           ("categorical_crossentropy", ("categorical", False)),
                           ("sparse_categorical_crossentropy", ("sparse", False))]:
        pred, target = make_data(*cls_kind, rng, (7, 3))
        loss = L.get(name)
        assert isinstance(loss, _CLASSES[cls_kind])
        np.testing.assert_allclose(loss(leaf(pred), target).item(),
                                   ref_loss(*cls_kind, pred, target), rtol=1e-13)
    pred, target = make_data("binary", True, rng, (7, 3))
    np.testing.assert_allclose(np.asarray(L.binary_crossentropy(target, pred.astype(np.float32),
                                                                from_logits=True)),
                               ref_loss("binary", True, pred.astype(np.float32), target, "none"),
                               rtol=2e-6)
    pred, labels = make_data("sparse", True, rng, (7, 3))
    np.testing.assert_allclose(
        np.asarray(L.sparse_categorical_crossentropy(labels, fn.tensor(pred, dtype="float64"),
                                                     from_logits=True)),
        ref_loss("sparse", True, pred, labels, "none"), rtol=1e-13)
    with pytest.raises(ValueError, match="unknown reduction"):
        L.MeanSquaredError(reduction="avg")


# --- PyTorch as a second oracle ------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", ["mse", "l1", "bce", "bce_logits", "ce", "ce_soft"])
def test_losses_vs_torch(case, reduction):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(67)
    if case == "ce":
        pred, target = make_data("sparse", True, rng, (33, 5))
        ours = L.CrossEntropyLoss(reduction=reduction)
        theirs = lambda p, t: F.cross_entropy(p, t, reduction=reduction)  # noqa: E731
        t_target = torch.tensor(target)
    elif case == "ce_soft":
        pred, target = make_data("categorical", True, rng, (33, 5))
        target = rng.dirichlet(np.ones(5), size=33)
        ours = L.CategoricalCrossentropy(from_logits=True, reduction=reduction)
        theirs = lambda p, t: F.cross_entropy(p, t, reduction=reduction)  # noqa: E731
        t_target = torch.tensor(target)
    else:
        kind, logits, ours, theirs = {
            "mse": ("mse", False, L.MSELoss(reduction), F.mse_loss),
            "l1": ("mae", False, L.L1Loss(reduction), F.l1_loss),
            "bce": ("binary", False, L.BCELoss(reduction), F.binary_cross_entropy),
            "bce_logits": ("binary", True, L.BCEWithLogitsLoss(reduction),
                           F.binary_cross_entropy_with_logits),
        }[case]
        # one output per sample: per-sample means equal torch's elementwise values
        pred, target = make_data(kind, logits, rng, (33, 1))
        fn_theirs = theirs
        theirs = lambda p, t: fn_theirs(p, t, reduction=reduction).reshape(-1) if reduction == "none" \
            else fn_theirs(p, t, reduction=reduction)  # noqa: E731
        t_target = torch.tensor(target)
    x = leaf(pred)
    out = ours(x, target)
    tp = torch.tensor(pred, requires_grad=True)
    tout = theirs(tp, t_target)
    np.testing.assert_allclose(np.asarray(out), tout.detach().numpy(), rtol=1e-12, atol=1e-15)
    w = rng.standard_normal(tuple(tout.shape))
    (out * w).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), tp.grad.numpy(), rtol=1e-11, atol=1e-15)


def test_loss_defaults_follow_their_libraries():
    assert L.MeanSquaredError().reduction == "sum_over_batch_size"
    assert L.MSELoss().reduction == "mean"
    assert L.CrossEntropyLoss().from_logits and not L.BCELoss().from_logits
    assert L.BCEWithLogitsLoss().from_logits
