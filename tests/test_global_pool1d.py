"""GlobalAveragePooling1D / GlobalMaxPooling1D: values and gradients against numpy in float64,
Keras's masked mean (the steps a mask keeps), the mask consumed, and a text model that uses
it (Embedding(mask_zero=True) -> GlobalAveragePooling1D -> Dense) captured == eager."""

import warnings

import numpy as np
import pytest

import fastnn as fn
from fastnn import layers

from conftest import check_grad, leaf


def test_values_match_numpy():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 7, 5))
    avg = layers.GlobalAveragePooling1D(dtype="float64")(x)
    mx = layers.GlobalMaxPooling1D(dtype="float64")(x)
    np.testing.assert_allclose(np.asarray(avg), x.mean(axis=1), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(mx), x.max(axis=1), rtol=0)
    kept = layers.GlobalAveragePooling1D(keepdims=True, dtype="float64")(x)
    assert tuple(kept.shape) == (4, 1, 5)
    assert layers.GlobalMaxPool1D().compute_output_shape((None, 7, 5)) == (None, 5)


def test_masked_mean_is_the_mean_of_the_kept_steps():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 6, 2))
    mask = np.array([[1, 1, 1, 0, 0, 0], [1, 0, 1, 0, 1, 1], [1] * 6], dtype=bool)
    got = np.asarray(layers.GlobalAveragePooling1D(dtype="float64")(x, mask=mask))
    want = np.stack([x[i][mask[i]].mean(axis=0) for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-14)
    # max ignores the mask, as Keras's does
    got = np.asarray(layers.GlobalMaxPooling1D(dtype="float64")(x, mask=mask))
    np.testing.assert_allclose(got, x.max(axis=1), rtol=0)


def test_gradients_with_and_without_mask():
    rng = np.random.default_rng(5)
    x0 = rng.standard_normal((2, 5, 3))
    mask = fn.tensor(np.array([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1]], np.float64), dtype="float64")
    w = fn.tensor(rng.standard_normal((2, 3)), dtype="float64")
    for m in (None, mask):
        layer = layers.GlobalAveragePooling1D(dtype="float64")
        check_grad(lambda x: fn.sum(layer(x, mask=m) * w), [leaf(x0)])


def test_embedding_mask_reaches_the_pooling():
    ids = np.array([[3, 4, 0, 0], [5, 6, 7, 0]])
    emb = layers.Embedding(9, 2, mask_zero=True, dtype="float64")
    pooled = layers.GlobalAveragePooling1D(dtype="float64")(emb(ids))
    table = np.asarray(emb.embeddings)
    want = np.stack([table[[3, 4]].mean(axis=0), table[[5, 6, 7]].mean(axis=0)])
    np.testing.assert_allclose(np.asarray(pooled), want, rtol=1e-14)
    assert getattr(pooled, "_keras_mask", None) is None  # consumed


def test_rank_error_names_the_layer():
    with pytest.raises(ValueError, match=r"GlobalAveragePooling1D .*\(batch, steps, channels\)"):
        layers.GlobalAveragePooling1D()(np.zeros((2, 3), np.float32))


def test_captured_text_model_equals_eager():
    rng = np.random.default_rng(6)
    ids = rng.integers(1, 40, (96, 10))
    for i, n in enumerate(rng.integers(1, 10, 96)):
        ids[i, n:] = 0
    y = (ids[:, 0] % 2).astype(np.int64)

    def losses(capture):
        fn.manual_seed(2)
        model = fn.Sequential([layers.Embedding(40, 8, mask_zero=True),
                               layers.GlobalAveragePooling1D(), layers.Dense(2)])
        model.compile("adam", fn.losses.SparseCategoricalCrossentropy(from_logits=True),
                      capture=capture)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a refused capture would warn
            return model.fit(ids, y, epochs=3, batch_size=16, verbose=0).history["loss"]

    np.testing.assert_allclose(losses(True), losses(False), rtol=1e-6)
