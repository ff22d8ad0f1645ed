"""Bad input raises a clear Python exception (type and message), never a crash."""

import numpy as np
import pytest

import fastnn as fn
from fastnn import _C, losses as L, optim


def _t(shape, dtype="float32", fill=0.0, requires_grad=False):
    return fn.tensor(np.full(shape, fill), dtype=dtype, requires_grad=requires_grad)


# --- shapes --------------------------------------------------------------------------------

@pytest.mark.parametrize("call,fragments", [
    (lambda: fn.dense(_t((3, 4)), _t((5, 2))), ["Dense", "5", "(3, 4)"]),
    (lambda: fn.dense(_t((3, 4)), _t((4, 2)), _t((3,))), ["bias", "(2,)", "(3,)"]),
    (lambda: fn.dense(_t((3, 4)), _t((4,))), ["kernel", "2 dimensions", "(4,)"]),
    (lambda: _C.dense(_t((7, 3)), _t((4, 2)), None, "relu", 0.0, "Dense 'mine'"),
     ["Dense 'mine'", "(7, 3)"]),
    (lambda: fn.matmul(_t((3, 4)), _t((5, 2))), ["matmul", "(3, 4)", "(5, 2)"]),
    (lambda: _t((3, 4)) @ _t((5,)), ["matmul", "(3, 4)", "(5,)"]),  # (4,) is a vector
    (lambda: _t((3, 4)) + _t((2, 4)), ["add", "(3, 4)", "(2, 4)", "broadcast"]),
    (lambda: fn.mul(_t((2, 3, 5)), _t((3, 4))), ["mul", "(2, 3, 5)", "(3, 4)"]),
    (lambda: _t((7,)) - np.zeros(3, dtype=np.float32), ["sub", "(7,)", "(3,)"]),
    (lambda: fn.concat([_t((3, 4)), _t((5, 2))]), ["concat", "(3, 4)", "(5, 2)"]),
    (lambda: fn.reshape(_t((3, 4)), (5,)), ["reshape", "(3, 4)", "(5,)"]),
    (lambda: L.MSELoss()(_t((3, 4)), np.zeros((3, 5))), ["MSELoss", "(3, 4)", "(3, 5)"]),
    (lambda: L.BinaryCrossentropy()(_t((3, 4)), np.zeros(4)), ["(3, 4)", "(4,)"]),
])
def test_shape_mismatches_raise_value_error(call, fragments):
    with pytest.raises(ValueError) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


# --- dtypes --------------------------------------------------------------------------------

@pytest.mark.parametrize("call,fragments", [
    # Arithmetic promotes mixed dtypes as torch does (float32 + float64 is float64); what
    # no promotion makes valid still raises.
    (lambda: fn.tensor([1, 2]) & _t((2,)), ["bitwise_and", "float"]),
    (lambda: fn.tensor([1, 2]).mean(), ["mean", "int64"]),
    (lambda: fn.dense(_t((3, 4)), _t((4, 2), "float64")), ["kernel", "float32", "float64"]),
    (lambda: fn.dense(_t((3, 4)), _t((4, 2)), _t((2,), "float64")), ["bias", "float64"]),
    (lambda: fn.matmul(_t((3, 4), "float64"), _t((4, 2))), ["matmul", "float64", "float32"]),
    (lambda: fn.concat([_t((1, 2)), _t((1, 2), "float64")]), ["concat", "float64"]),
    (lambda: fn.tensor([True]) - fn.tensor([False]), ["sub", "bool"]),
    (lambda: fn.relu(fn.tensor([1, 2])), ["relu", "int64"]),
    (lambda: L.MSELoss()(fn.tensor([[1, 2]]), np.zeros((1, 2))), ["y_pred", "int64"]),
    (lambda: fn.tensor([1.0], dtype="float16"), ["float16"]),
    (lambda: fn.tensor(np.array(["a", "b"])), ["<U1"]),
    (lambda: fn.as_tensor(object()), ["object"]),
    (lambda: setattr(_t((2,), requires_grad=True), "grad", _t((2,), "float64")), ["grad"]),
])
def test_dtype_errors_raise_type_error(call, fragments):
    with pytest.raises(TypeError) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


# --- losses --------------------------------------------------------------------------------

@pytest.mark.parametrize("labels", [[0, 4, 1], [0, -1, 1], [0.0, 1.5, 1.0], [0.0, np.nan, 1.0]])
@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_labels_out_of_range(labels, from_logits):
    p = _t((3, 4), fill=0.25, requires_grad=True)
    with pytest.raises(IndexError, match=r"\[0, 4\).*position 1"):
        L.SparseCategoricalCrossentropy(from_logits=from_logits)(p, np.array(labels))


def test_one_hot_versus_sparse_confusion():
    p = _t((3, 4), fill=0.25, requires_grad=True)
    with pytest.raises(ValueError, match="one-hot targets need CategoricalCrossentropy"):
        L.SparseCategoricalCrossentropy()(p, np.eye(4)[[0, 1, 2]])
    with pytest.raises(ValueError, match="one-hot targets need CategoricalCrossentropy"):
        L.CrossEntropyLoss()(p, np.eye(4)[[0, 1, 2]])
    with pytest.raises(ValueError, match="integer labels need SparseCategoricalCrossentropy"):
        L.CategoricalCrossentropy()(p, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="integer labels need SparseCategoricalCrossentropy"):
        L.CategoricalCrossentropy(from_logits=True)(p, np.array([0, 1, 2]))


_ALL_LOSSES = [L.MSELoss(), L.L1Loss(), L.BCELoss(), L.BCEWithLogitsLoss(),
               L.CategoricalCrossentropy(), L.CategoricalCrossentropy(from_logits=True),
               L.CrossEntropyLoss(), L.SparseCategoricalCrossentropy(reduction="none")]
# Infinite probabilities are clipped to 1 - 1e-7 as Keras clips them, and a logit of -inf
# for a class that is not the target is a probability of 0 for it: both give finite losses.
_UNCLIPPED = [l for l in _ALL_LOSSES if l.from_logits or l.kind.startswith("mean")]
_REGRESSION = [l for l in _ALL_LOSSES if l.kind.startswith("mean")]


@pytest.mark.parametrize("loss,bad", [(l, np.nan) for l in _ALL_LOSSES] +
                         [(l, np.inf) for l in _UNCLIPPED] + [(l, -np.inf) for l in _REGRESSION],
                         ids=lambda v: type(v).__name__ if isinstance(v, L.Loss) else str(v))
def test_non_finite_predictions(loss, bad):
    pred = np.full((3, 2), 0.5)
    pred[1, 0] = bad
    sparse = isinstance(loss, L.SparseCategoricalCrossentropy)
    target = np.array([0, 1, 1]) if sparse else np.eye(2)[[0, 1, 1]]
    with pytest.raises(ValueError, match="NaN") as info:
        loss(fn.tensor(pred, requires_grad=True), target)
    assert "y_pred" in str(info.value)


def test_non_finite_targets():
    with pytest.raises(ValueError, match="NaN.*y_true"):
        L.MSELoss()(_t((2, 2), requires_grad=True), np.array([[np.nan, 0.0], [0.0, 0.0]]))


def test_empty_and_scalar_predictions():
    with pytest.raises(ValueError, match="non-empty"):
        L.MSELoss()(_t((0, 2)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="scalar"):
        L.MSELoss()(_t(()), np.zeros(()))
    for loss in (L.CrossEntropyLoss(), L.CategoricalCrossentropy()):
        with pytest.raises(ValueError, match=r"\(batch, classes\), got \(3,\)"):
            loss(_t((3,)), np.zeros(3, dtype=np.int64))


# --- unknown names -------------------------------------------------------------------------

@pytest.mark.parametrize("call,fragment", [
    (lambda: fn.layers.Dense(3, activation="relux"), "unknown activation 'relux'"),
    (lambda: fn.layers.Activation("swishy"), "unknown activation 'swishy'"),
    (lambda: fn.activations.get("nope"), "unknown activation 'nope'"),
    (lambda: fn.dense(_t((2, 3)), _t((3, 1)), None, "elu"), "unknown activation 'elu'"),
    (lambda: L.get("msee"), "unknown loss 'msee'"),
    (lambda: _C.loss(_t((2, 2)), _t((2, 2)), "hinge"), "unknown loss 'hinge'"),
    (lambda: L.MSELoss(reduction="avg"), "unknown reduction 'avg'"),
    (lambda: fn.layers.Dense(3, kernel_initializer="glorot"), "unknown initializer 'glorot'"),
    (lambda: fn.layers.Dense(3, bias_initializer="one"), "unknown initializer 'one'"),
    (lambda: fn.initializers.get("he"), "unknown initializer 'he'"),
    (lambda: fn.layers.Dense(3, kernel_regularizer="l3"), "unknown regularizer 'l3'"),
    (lambda: fn.regularizers.get("ridge"), "unknown regularizer 'ridge'"),
])
def test_unknown_names_raise_value_error(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()


# --- optimizers ----------------------------------------------------------------------------

def _param():
    return fn.Parameter(np.zeros(3), dtype="float64")


@pytest.mark.parametrize("call,fragment", [
    (lambda: optim.SGD([]), "empty parameter list"),
    (lambda: optim.Adam([]), "empty parameter list"),
    (lambda: optim.SGD([_param()], lr=-0.1), "lr >= 0"),
    (lambda: optim.Adam([_param()], lr=-1e-3), "lr >= 0"),
    (lambda: optim.RMSprop([_param()], lr=-1.0), "lr >= 0"),
    (lambda: optim.Adagrad([_param()], lr=-1.0), "lr >= 0"),
    (lambda: optim.SGD([_param()], momentum=-0.9), "momentum >= 0"),
    (lambda: optim.Adam([_param()], betas=(1.0, 0.999)), r"betas\[0\] in \[0, 1\)"),
    (lambda: optim.Adam([_param()], betas=(0.9, -0.1)), r"betas\[1\] in \[0, 1\)"),
    (lambda: optim.AdamW([_param()], betas=(0.9, 1.5)), r"betas\[1\]"),
    (lambda: optim.Adam([_param()], betas=(0.9,)), "betas to be a pair"),
    (lambda: optim.Adam([_param()], betas=0.9), "betas to be a pair"),
    (lambda: optim.Adam([_param()], eps=-1e-8), "eps >= 0"),
    (lambda: optim.Adam([_param()], weight_decay=-0.1), "weight_decay >= 0"),
    (lambda: optim.RMSprop([_param()], alpha=1.0), r"alpha in \[0, 1\)"),
    (lambda: optim.Adagrad([_param()], initial_accumulator_value=-1), "initial_accumulator_value"),
    (lambda: optim.Adagrad([_param()], lr_decay=-0.1), "lr_decay >= 0"),
    (lambda: optim.SGD([_param()], momentum=0.0, nesterov=True), "nesterov"),
    (lambda: optim.SGD([_param()], momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (lambda: optim.SGD([fn.tensor([1.0], requires_grad=True) * 2]), "non-leaf"),
])
def test_optimizer_arguments(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()


def test_optimizer_parameter_types():
    p = _param()
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p)
    with pytest.raises(TypeError, match="parameter 1 is a ndarray"):
        optim.SGD([p, np.zeros(3)])
    with pytest.raises(ValueError, match="more than once"):
        optim.Adam([p, p])
    opt = optim.Adam([p])
    opt.param_groups[0]["betas"] = (0.9, 2.0)  # bad values given later fail at the step
    p.grad = fn.tensor(np.ones(3), dtype="float64")
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        opt.step()
    np.testing.assert_array_equal(np.asarray(p), 0.0)


# --- layers --------------------------------------------------------------------------------

def test_set_weights_with_wrong_shapes_leaves_weights_unchanged():
    fn.manual_seed(90)
    layer = fn.layers.Dense(3, input_dim=4)
    before = layer.get_weights()
    for bad in ([np.ones((4, 3)), np.ones(4)],            # second one wrong: first not applied
                [np.ones((3, 4)), np.ones(3)],
                [np.ones((4, 3))],                        # too few
                [np.ones((4, 3)), np.ones(3), np.ones(3)]):
        with pytest.raises(ValueError, match="set_weights"):
            layer.set_weights(bad)
        for w, b in zip(layer.get_weights(), before):
            np.testing.assert_array_equal(w, b)
    with pytest.raises(ValueError, match=r"dense\w*/bias of shape \(3,\), got \(4,\)"):
        layer.set_weights([np.ones((4, 3)), np.ones(4)])
    with pytest.raises(TypeError, match="set_weights"):  # non-numeric: also nothing applied
        layer.set_weights([np.ones((4, 3)), np.array(["a", "b", "c"])])
    for w, b in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(w, b)


@pytest.mark.parametrize("units", [0, -1, 2.5, True, "3", None])
def test_dense_units_must_be_a_positive_integer(units):
    with pytest.raises(ValueError, match="units to be a positive integer"):
        fn.layers.Dense(units)


@pytest.mark.parametrize("shape", [(0, 4), (2, 0), (0,)])
def test_empty_inputs_to_dense(shape):
    layer = fn.layers.Dense(3)
    with pytest.raises(ValueError, match="non-empty"):
        layer(np.zeros(shape, dtype=np.float32))
    with pytest.raises(ValueError, match="non-empty"):
        fn.dense(_t(shape), _t((shape[-1], 3)))


def test_dense_input_size_mismatch_after_build():
    layer = fn.layers.Dense(3, input_dim=4)
    with pytest.raises(ValueError, match=r"last dimension 4.*\(2, 5\)"):
        layer(np.zeros((2, 5), dtype=np.float32))


@pytest.mark.parametrize("make", [
    lambda: fn.layers.Dense(3, activaton="relu"),
    lambda: fn.layers.ReLU(foo=1),
    lambda: fn.layers.Flatten(bar=2),
    lambda: fn.Model(baz=3),
])
def test_unknown_keyword_to_a_layer(make):
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        make()


@pytest.mark.parametrize("call,exc,fragment", [
    (lambda: fn.layers.Dense(3, dtype="float16"), TypeError, "float16"),
    (lambda: fn.layers.LeakyReLU(alpha=-1), ValueError, "alpha >= 0"),
    (lambda: fn.layers.LeakyReLU(alpha=0.1, negative_slope=0.2), TypeError, "not both"),
    (lambda: fn.layers.Dense(3, input_shape=(0,)), ValueError, "positive sizes"),
    (lambda: fn.layers.Reshape((-1, -1)), ValueError, "at most one -1"),
    (lambda: fn.layers.Reshape((5,))(np.zeros((2, 3), dtype=np.float32)), ValueError, "(3,)"),
    (lambda: fn.layers.Dense(2).backward(np.ones((1, 2))), RuntimeError, "call the layer"),
    (lambda: fn.regularizers.L1L2(l1=-1), ValueError, "l1 >= 0"),
    (lambda: fn.manual_seed(-1), ValueError, "non-negative"),
])
def test_other_layer_and_setup_errors(call, exc, fragment):
    with pytest.raises(exc) as info:
        call()
    assert fragment in str(info.value)


# --- misc ops ------------------------------------------------------------------------------

@pytest.mark.parametrize("call,exc,fragment", [
    (lambda: fn.softmax(_t((3, 4)), axis=0), ValueError, "last axis"),
    (lambda: fn.sum(_t((3, 4)), axis=2), IndexError, "axis 2"),
    (lambda: fn.mean(_t((0, 2)), axis=0), ValueError, "empty axis"),
    (lambda: _t((3, 4))[3], IndexError, "out of range"),
    (lambda: _t((3, 4))[np.array([0, 3])], IndexError, "out of range"),
    (lambda: _C.slice_rows(_t((3, 4)), 2, 5), IndexError, "out of range"),
    (lambda: _C.take_rows(_t((3, 4)), fn.tensor([-1])), IndexError, "position 0"),
    (lambda: _t((3, 4)).backward(), RuntimeError, "does not require grad"),
    (lambda: fn.tensor([1.0], device="cuda:0"), ValueError, "not available"),
    (lambda: fn.leaky_relu(_t((2,)), -0.5), ValueError, "alpha >= 0"),
    (lambda: _C.weight_penalty(_t((2,)), 0.0, -1.0), ValueError, "l2 >= 0"),
])
def test_misc_op_errors(call, exc, fragment):
    with pytest.raises(exc) as info:
        call()
    assert fragment in str(info.value)
