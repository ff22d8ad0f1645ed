"""Streaming metrics (Keras's AUC, Precision, Recall, top-k accuracies): equal to
scikit-learn (where installed) and to Keras's thresholded formulas on the same predictions,
the same whether fed at once or batch by batch, reset between passes, and usable by name in
compile."""

import numpy as np
import pytest

import fastnn as fn
from fastnn import layers, metrics

EPS = 1e-7


@pytest.fixture
def sk():
    """scikit-learn's metrics, the independent oracle (skips where it is not installed)."""
    return pytest.importorskip("sklearn.metrics")


def precision(y, predicted, w=None):
    y, predicted = np.ravel(y) != 0, np.ravel(predicted) != 0
    w = np.ones(len(y)) if w is None else np.asarray(w, np.float64)
    return np.sum(w * (y & predicted)) / np.sum(w * predicted)


def recall(y, predicted, w=None):
    return precision(predicted, y, w)


def scores(n, seed=0, classes=None):
    """Binary labels and float32 probabilities that are informative but overlap."""
    rng = np.random.default_rng(seed)
    shape = (n,) if classes is None else (n, classes)
    y = rng.integers(0, 2, shape)
    p = np.clip(rng.random(shape) * 0.7 + y * 0.25, 0, 1).astype(np.float32)
    return y, p


def keras_counts(y, p, thresholds, w=None):
    """Keras's confusion counts by definition: at each threshold a prediction is positive
    when strictly greater, a label when nonzero; weighted sums (the reference: one
    comparison per threshold, no buckets)."""
    y, p = np.ravel(y) != 0, np.ravel(p).astype(np.float64)
    w = np.ones(len(p)) if w is None else np.broadcast_to(np.asarray(w, np.float64), len(p))
    pos = p[None, :] > np.asarray(thresholds, np.float64)[:, None]
    tp = (pos & y) @ w
    fp = (pos & ~y) @ w
    return tp, fp, (~pos & ~y) @ w, (~pos & y) @ w


def keras_auc(y, p, num_thresholds=200, curve="ROC", w=None):
    thresholds = [-EPS] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [
        1 + EPS]
    tp, fp, tn, fn_ = keras_counts(y, p, thresholds, w)

    def ratio(a, b):
        return np.divide(a, b, out=np.zeros_like(a), where=b != 0)

    if curve == "ROC":  # trapezoids of recall over the false positive rate
        x, h = ratio(fp, fp + tn), ratio(tp, tp + fn_)
        return float(np.sum((x[:-1] - x[1:]) * (h[:-1] + h[1:]) / 2))
    # PR: Davis & Goadrich's interpolation as Keras writes it (tp and fp linear in between)
    total = 0.0
    for a in range(num_thresholds - 1):
        b = a + 1
        dtp, pa, pb = tp[a] - tp[b], tp[a] + fp[a], tp[b] + fp[b]
        if pa - pb <= 0 or tp[b] + fn_[b] <= 0:
            continue
        slope = dtp / (pa - pb)
        intercept = tp[b] - slope * pb
        log_ratio = np.log(pa / pb) if pa > 0 and pb > 0 else 0.0
        total += slope * (dtp + intercept * log_ratio) / (tp[b] + fn_[b])
    return total


# --- AUC -----------------------------------------------------------------------------------------

def test_auc_keras_docstring_examples():
    m = metrics.AUC(num_thresholds=3)
    m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    assert m.result() == pytest.approx(0.75)
    m.reset_state()
    m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9], sample_weight=[1, 0, 0, 1])
    assert m.result() == pytest.approx(1.0)
    assert metrics.AUC(num_thresholds=3).thresholds == pytest.approx([-EPS, 0.5, 1 + EPS])


@pytest.mark.parametrize("curve", ["ROC", "PR"])
@pytest.mark.parametrize("num_thresholds", [3, 7, 200])
def test_auc_equals_keras_formula_at_num_thresholds(curve, num_thresholds):
    y, p = scores(801, seed=num_thresholds)
    w = np.random.default_rng(1).random(801)
    for weights in (None, w):
        m = metrics.AUC(num_thresholds=num_thresholds, curve=curve)
        m.update_state(y, p, sample_weight=weights)
        expected = keras_auc(y, p, num_thresholds, curve, weights)
        assert m.result() == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_roc_auc_equals_sklearn_exactly_when_thresholds_separate_the_scores(sk):
    """With 10001 thresholds and scores inside distinct buckets (ties only in the same
    bucket), Keras's trapezoids are the exact ROC AUC: scikit-learn's, to rounding."""
    num_thresholds = 10001
    rng = np.random.default_rng(3)
    bucket = rng.integers(0, num_thresholds - 1, 3000)
    y = (rng.random(3000) < 0.2 + 0.6 * bucket / num_thresholds).astype(int)
    p = (bucket + 0.5) / (num_thresholds - 1)
    w = rng.random(3000)
    m = metrics.AUC(num_thresholds=num_thresholds, dtype="float64")
    m.update_state(y, p)
    assert m.result() == pytest.approx(sk.roc_auc_score(y, p), abs=1e-12)
    m.reset_state()
    m.update_state(y, p, sample_weight=w)
    assert m.result() == pytest.approx(sk.roc_auc_score(y, p, sample_weight=w),
                                       abs=1e-12)


def test_auc_approaches_sklearn_on_random_scores(sk):
    y, p = scores(4000, seed=7)
    roc = metrics.AUC(num_thresholds=10000)
    pr = metrics.AUC(num_thresholds=10000, curve="PR")
    roc.update_state(y, p)
    pr.update_state(y, p)
    assert roc.result() == pytest.approx(sk.roc_auc_score(y, p), abs=1e-4)
    # Keras's PR interpolation is not average precision's step sum: close, not equal.
    assert pr.result() == pytest.approx(sk.average_precision_score(y, p), abs=2e-3)
    coarse = metrics.AUC()  # 200 thresholds: Keras's approximation
    coarse.update_state(y, p)
    assert coarse.result() == pytest.approx(sk.roc_auc_score(y, p), abs=2e-3)


@pytest.mark.parametrize("kwargs", [
    {}, {"curve": "PR"}, {"summation_method": "minoring"}, {"summation_method": "majoring"},
    {"curve": "pr", "summation_method": "majoring"}, {"thresholds": [0.1, 0.35, 0.5, 0.9]},
    {"multi_label": True}, {"multi_label": True, "label_weights": [1.0, 0.0, 3.0]},
    {"label_weights": [1.0, 2.0, 0.5]}, {"from_logits": True},
])
def test_auc_accumulated_over_batches_equals_the_whole_set(kwargs):
    y, p = scores(300, seed=11, classes=3)
    if kwargs.get("from_logits"):
        p = np.log(p + 1e-3) - np.log1p(1e-3 - p)  # logits of p
    w = np.random.default_rng(2).random(300)
    whole, parts = metrics.AUC(**kwargs), metrics.AUC(**kwargs)
    whole.update_state(y, p, sample_weight=w)
    for lo in range(0, 300, 37):
        parts.update_state(y[lo:lo + 37], p[lo:lo + 37], sample_weight=w[lo:lo + 37])
    assert parts.result() == pytest.approx(whole.result(), rel=1e-12)
    assert 0.5 < whole.result() <= 1.0
    parts.reset_state()
    parts.update_state(y[:50], p[:50])
    fresh = metrics.AUC(**kwargs)
    fresh.update_state(y[:50], p[:50])
    assert parts.result() == fresh.result()


def test_auc_multi_label_is_the_mean_of_per_label_aucs():
    y, p = scores(400, seed=5, classes=3)
    multi = metrics.AUC(multi_label=True)
    multi.update_state(y, p)
    per_label = []
    for j in range(3):
        m = metrics.AUC()
        m.update_state(y[:, j], p[:, j])
        per_label.append(m.result())
    assert multi.result() == pytest.approx(np.mean(per_label), rel=1e-12)
    weighted = metrics.AUC(multi_label=True, label_weights=[1, 0, 3])
    weighted.update_state(y, p)
    assert weighted.result() == pytest.approx((per_label[0] + 3 * per_label[2]) / 4, rel=1e-12)
    flat = metrics.AUC()  # multi_label=False: every (label, prediction) pair is one point
    flat.update_state(y, p)
    assert flat.result() == pytest.approx(keras_auc(y, p), rel=1e-12)


def test_auc_from_logits_applies_a_sigmoid():
    y, p = scores(500, seed=9)
    logits = np.log(p + 1e-4) - np.log1p(1e-4 - p)
    a, b = metrics.AUC(from_logits=True), metrics.AUC()
    a.update_state(y, logits)
    b.update_state(y, 1 / (1 + np.exp(-logits.astype(np.float64))))
    assert a.result() == pytest.approx(b.result(), abs=1e-6)


def test_auc_argument_errors():
    for kwargs, fragment in [({"num_thresholds": 1}, "num_thresholds"),
                             ({"curve": "DET"}, "curve"),
                             ({"summation_method": "simpson"}, "summation_method"),
                             ({"thresholds": [0.5, 1.5]}, r"\[0, 1\]"),
                             ({"num_labels": 3}, "multi_label"),
                             ({"label_weights": [-1.0, 1.0]}, "label_weights")]:
        with pytest.raises(ValueError, match=fragment):
            metrics.AUC(**kwargs)
    m = metrics.AUC(multi_label=True)
    m.update_state(np.ones((4, 3)), np.full((4, 3), 0.5))
    with pytest.raises(ValueError, match="3 labels"):
        m.update_state(np.ones((4, 2)), np.full((4, 2), 0.5))
    with pytest.raises(ValueError, match="one-hot"):
        metrics.AUC().update_state(np.array([0, 2, 1]), np.full((3, 3), 0.2))


# --- Precision and Recall ------------------------------------------------------------------------

def test_precision_recall_keras_docstring_examples():
    for cls in (metrics.Precision, metrics.Recall):
        m = cls()
        m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
        assert m.result() == pytest.approx(2 / 3)
        m.reset_state()
        m.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
        assert m.result() == pytest.approx(1.0)
    top2 = metrics.Precision(top_k=2)  # all tied: the first two are the top 2
    top2.update_state([0, 0, 1, 1], [1, 1, 1, 1])
    assert top2.result() == 0.0
    top4 = metrics.Precision(top_k=4)
    top4.update_state([0, 0, 1, 1], [1, 1, 1, 1])
    assert top4.result() == pytest.approx(0.5)
    empty = metrics.Precision()  # nothing predicted positive: 0, not NaN
    empty.update_state([1, 1], [0.1, 0.2])
    assert empty.result() == 0.0


@pytest.mark.parametrize("threshold", [None, 0.3, 0.75])
def test_precision_recall_equal_sklearn_exactly(sk, threshold):
    y, p = scores(1000, seed=4)
    w = np.random.default_rng(8).random(1000)
    predicted = (p > (0.5 if threshold is None else threshold)).astype(int)
    for cls, reference in ((metrics.Precision, sk.precision_score),
                           (metrics.Recall, sk.recall_score)):
        m = cls(thresholds=threshold)
        m.update_state(y, p)
        assert m.result() == pytest.approx(reference(y, predicted), rel=1e-12)
        weighted = cls(thresholds=threshold)
        for lo in range(0, 1000, 64):  # batch by batch equals the whole set
            weighted.update_state(y[lo:lo + 64], p[lo:lo + 64], sample_weight=w[lo:lo + 64])
        assert weighted.result() == pytest.approx(reference(y, predicted, sample_weight=w),
                                                  rel=1e-12)


def test_precision_recall_multiclass_class_id_top_k_and_threshold_lists(sk):
    y, p = scores(500, seed=6, classes=4)
    flat_pred = (p > 0.5).astype(int).ravel()
    m = metrics.Precision()  # (N, C): every entry is one binary prediction (micro)
    m.update_state(y, p)
    assert m.result() == pytest.approx(sk.precision_score(y.ravel(), flat_pred))
    for c in range(4):
        r = metrics.Recall(class_id=c)
        r.update_state(y, p)
        assert r.result() == pytest.approx(sk.recall_score(y[:, c], p[:, c] > 0.5))
    # top_k: only the k highest predictions of a row can be positive (threshold -1e10)
    top = np.argsort(-p, axis=1, kind="stable")[:, :2]
    picked = np.zeros_like(y)
    np.put_along_axis(picked, top, 1, axis=1)
    for cls, reference in ((metrics.Precision, sk.precision_score),
                           (metrics.Recall, sk.recall_score)):
        m = cls(top_k=2)
        m.update_state(y, p)
        assert m.result() == pytest.approx(reference(y.ravel(), picked.ravel()), rel=1e-12)
        m = cls(top_k=2, class_id=1)
        m.update_state(y, p)
        assert m.result() == pytest.approx(reference(y[:, 1], picked[:, 1]), rel=1e-12)
    several = metrics.Precision(thresholds=[0.2, 0.5, 0.8])
    several.update_state(y, p)
    expected = [sk.precision_score(y.ravel(), (p > t).ravel()) for t in
                (0.2, 0.5, 0.8)]
    np.testing.assert_allclose(several.result(), expected, rtol=1e-12)
    even = metrics.Recall(thresholds=[0.0, 0.25, 0.5, 0.75, 1.0])  # Keras's bucket route
    even.update_state(y, p)
    expected = [sk.recall_score(y.ravel(), (p > t).ravel()) for t in
                (0.0, 0.25, 0.5, 0.75, 1.0)]
    np.testing.assert_allclose(even.result(), expected, rtol=1e-12)


def test_precision_recall_argument_errors():
    for kwargs, fragment in [({"thresholds": 1.5}, r"\[0, 1\]"), ({"top_k": 0}, "top_k"),
                             ({"class_id": -1}, "class_id"), ({"thresholds": []}, "empty")]:
        with pytest.raises(ValueError, match=fragment):
            metrics.Precision(**kwargs)
    with pytest.raises(ValueError, match="class_id=5"):
        metrics.Recall(class_id=5).update_state(np.ones((2, 3)), np.ones((2, 3)))


# --- top-k accuracies and Mean ------------------------------------------------------------------

def test_top_k_accuracy_objects_stream_and_weight():
    rng = np.random.default_rng(12)
    p = rng.random((250, 7)).astype(np.float32)
    labels = rng.integers(0, 7, 250)
    w = rng.random(250)
    rank = (p > p[np.arange(250), labels][:, None]).sum(axis=1)  # how many score higher
    hits = (rank < 3).astype(float)
    sparse = metrics.SparseTopKCategoricalAccuracy(k=3)
    dense = metrics.TopKCategoricalAccuracy(k=3)
    for lo in range(0, 250, 40):
        sl = slice(lo, lo + 40)
        sparse.update_state(labels[sl], p[sl], sample_weight=w[sl])
        dense.update_state(np.eye(7)[labels[sl]], p[sl], sample_weight=w[sl])
    assert sparse.result() == pytest.approx(np.sum(hits * w) / np.sum(w), rel=1e-12)
    assert dense.result() == pytest.approx(sparse.result(), rel=1e-12)
    assert sparse.name == "sparse_top_k_categorical_accuracy"
    assert dense.name == "top_k_categorical_accuracy"
    five = metrics.SparseTopKCategoricalAccuracy()  # k=5 by default
    five.update_state(labels, p)
    assert five.result() == pytest.approx(np.mean(rank < 5))
    ids = np.argsort(-p, axis=1)[:, :3]
    sorted_ids = metrics.SparseTopKCategoricalAccuracy(k=3, from_sorted_ids=True)
    sorted_ids.update_state(labels, ids)
    assert sorted_ids.result() == pytest.approx(np.mean(hits))
    mean = metrics.Mean()
    assert mean([1.0, 2.0, 3.0], sample_weight=[1, 0, 1]) == pytest.approx(2.0)
    mean.reset_state()
    assert mean.result() == 0.0


# --- in compile / fit / evaluate -----------------------------------------------------------------

def binary_model():
    return fn.Sequential([layers.Dense(6, activation="tanh"),
                          layers.Dense(1, activation="sigmoid")], input_shape=(4,))


def binary_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = ((x[:, 0] + 0.8 * rng.normal(size=n)) > 0).astype(np.float32)[:, None]
    return x, y


def test_metrics_by_name_in_compile_fit_and_evaluate_match_their_definitions():
    fn.manual_seed(0)
    x, y = binary_data(200, 0)
    x_val, y_val = binary_data(90, 1)
    model = binary_model()
    model.compile("adam", "binary_crossentropy", metrics=["auc", "precision", "recall"])
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0,
                        validation_data=(x_val, y_val)).history
    assert list(history) == ["loss", "auc", "precision", "recall", "val_loss", "val_auc",
                             "val_precision", "val_recall"]
    assert model.metrics_names == ["loss", "auc", "precision", "recall"]
    logs = model.evaluate(x_val, y_val, batch_size=7, return_dict=True)
    # Each pass starts from zero: the last epoch's validation equals a fresh evaluate.
    for name in ("auc", "precision", "recall"):
        assert history["val_" + name][-1] == pytest.approx(logs[name], rel=1e-12)
    p = model.predict(x_val)[:, 0]
    assert logs["precision"] == pytest.approx(precision(y_val, p > 0.5), rel=1e-12)
    assert logs["recall"] == pytest.approx(recall(y_val, p > 0.5), rel=1e-12)
    assert logs["auc"] == pytest.approx(keras_auc(y_val[:, 0], p), rel=1e-9)
    # evaluate on other data: nothing carried over from the previous pass
    other = model.evaluate(x, y, return_dict=True)
    p = model.predict(x)[:, 0]
    assert other["precision"] == pytest.approx(precision(y, p > 0.5), rel=1e-12)


def test_metric_objects_in_compile_keep_their_names_and_arguments():
    fn.manual_seed(1)
    x, y = binary_data(120, 2)
    logits = fn.Sequential([layers.Dense(6, activation="tanh"), layers.Dense(1)], input_shape=(4,))
    logits.compile("adam", fn.losses.BinaryCrossentropy(from_logits=True),
                   metrics=[metrics.AUC(from_logits=True, name="roc"),
                            metrics.AUC(curve="PR", from_logits=True, name="pr"),
                            metrics.Precision(thresholds=0.0, name="p_at_0")])
    logs = logits.evaluate(x, y, return_dict=True)
    z = logits.predict(x)[:, 0]
    assert list(logs) == ["loss", "roc", "pr", "p_at_0"]
    assert logs["roc"] == pytest.approx(keras_auc(y[:, 0], 1 / (1 + np.exp(-z))), abs=1e-6)
    assert logs["p_at_0"] == pytest.approx(precision(y, z > 0), rel=1e-12)
    with pytest.raises(ValueError, match="3 thresholds"):
        logits.compile("adam", "mse", metrics=[metrics.Precision(thresholds=[0.2, 0.5, 0.7])])
    with pytest.raises(TypeError, match="not the class"):
        logits.compile("adam", "mse", metrics=[metrics.AUC])


def test_top_k_names_in_compile_equal_the_streaming_objects():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(90, 5)).astype(np.float32)
    labels = rng.integers(0, 6, 90)
    fn.manual_seed(2)
    model = fn.Sequential([layers.Dense(6, activation="softmax")], input_shape=(5,))
    model.compile("adam", "sparse_categorical_crossentropy",
                  metrics=["sparse_top_k_categorical_accuracy",
                           metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")])
    logs = model.evaluate(x, labels, batch_size=16, return_dict=True)
    p = model.predict(x)
    rank = (p > p[np.arange(90), labels][:, None]).sum(axis=1)
    assert logs["sparse_top_k_categorical_accuracy"] == pytest.approx(np.mean(rank < 5))
    assert logs["top2"] == pytest.approx(np.mean(rank < 2))
    model.compile("adam", "categorical_crossentropy", metrics=["top_k_categorical_accuracy"])
    logs = model.evaluate(x, np.eye(6)[labels], return_dict=True)
    assert logs["top_k_categorical_accuracy"] == pytest.approx(np.mean(rank < 5))


@pytest.mark.parametrize("capture", [True, False])
def test_accuracy_of_sequence_outputs_is_the_mean_over_every_step(capture):
    """(N, T, C) predictions: the C++ accuracy kernels count one value per step, so the
    mean divides by N * T (it divided by N, giving accuracies above 1)."""
    rng = np.random.default_rng(13)
    x = rng.normal(size=(40, 4, 5)).astype(np.float32)
    labels = rng.integers(0, 3, (40, 4))
    fn.manual_seed(3)
    model = fn.Sequential([layers.Dense(3, activation="softmax")], input_shape=(4, 5))
    model.compile(fn.optimizers.SGD(learning_rate=0.0), "sparse_categorical_crossentropy",
                  metrics=["accuracy"], capture=capture)
    hits = model.predict(x).argmax(axis=-1) == labels
    assert model.evaluate(x, labels, batch_size=16)[1] == pytest.approx(hits.mean())
    history = model.fit(x, labels, batch_size=8, epochs=2, verbose=0).history
    assert history["accuracy"] == pytest.approx([hits.mean()] * 2)
