"""State dicts keyed by the model's structure, and optimizer state moved between instances.

Keys follow PyTorch: attribute paths for subclassed models ('d1.kernel', 'blocks.0.bias',
'encoder.d1.kernel', 'scale'), positions for Sequential ('0.kernel'), the add_weight name
within a layer. Keras's weight names (dense_3/kernel) depend on how many layers the process
made before, so every transfer test makes other layers in between: the Keras names of the
two instances differ while their state_dict keys match.
"""

import re

import numpy as np
import pytest

import fastnn as fn
from fastnn import layers

RNG = np.random.default_rng(20240607)


def batch(rows, cols):
    return RNG.standard_normal((rows, cols)).astype(np.float32)


class Net(fn.Model):
    """Keras-style, two attributes."""

    def __init__(self):
        super().__init__()
        self.d1 = layers.Dense(13, activation="relu")
        self.d2 = layers.Dense(3)

    def call(self, x):
        return self.d2(self.d1(x))


class Stack(fn.Model):
    """PyTorch-style: a list, a dict, a parameter held directly and a frozen layer."""

    def __init__(self):
        super().__init__()
        self.blocks = [layers.Dense(9, activation="tanh"), layers.Dense(6, activation="relu")]
        self.heads = {"a": layers.Dense(4), "b": layers.Dense(4, use_bias=False)}
        self.frozen = layers.Dense(4, trainable=False)
        self.scale = fn.Parameter(RNG.standard_normal(4) + 1.0)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return (self.heads["a"](x) + self.heads["b"](x) + self.frozen(x)) * self.scale


class Outer(fn.Model):
    """Nested: a subclassed model and a Sequential held as attributes."""

    def __init__(self):
        super().__init__()
        self.encoder = Net()
        self.head = fn.Sequential([layers.Dense(7, activation="relu"), layers.ReLU(),
                                   layers.Dense(3)])

    def call(self, x):
        return self.head(self.encoder(x))


def sequential():
    return fn.Sequential([layers.Dense(8, activation="relu"), layers.ReLU(), layers.Dense(5)],
                         input_shape=(11,))


def built(make, features=11):
    model = make()
    with fn.no_grad():
        model(batch(1, features))
    return model


KEYS = {
    "subclassed": (Net, ["d1.kernel", "d1.bias", "d2.kernel", "d2.bias"]),
    "lists": (Stack, ["blocks.0.kernel", "blocks.0.bias", "blocks.1.kernel", "blocks.1.bias",
                      "heads.a.kernel", "heads.a.bias", "heads.b.kernel", "frozen.kernel",
                      "frozen.bias", "scale"]),
    "nested": (Outer, ["encoder.d1.kernel", "encoder.d1.bias", "encoder.d2.kernel",
                       "encoder.d2.bias", "head.0.kernel", "head.0.bias", "head.2.kernel",
                       "head.2.bias"]),
    "sequential": (sequential, ["0.kernel", "0.bias", "2.kernel", "2.bias"]),
}


# --- the keys ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KEYS)
def test_state_dict_keys_follow_the_structure_in_weights_order(kind):
    make, keys = KEYS[kind]
    model = built(make)
    state = model.state_dict()
    assert list(state) == keys
    for (key, value), w in zip(state.items(), model.weights):
        np.testing.assert_array_equal(value, np.asarray(w))
        assert value.shape == tuple(w.shape)
    # Keras's names are kept as they were.
    assert all(re.fullmatch(r"[a-z_0-9]+/(kernel|bias)", w.name) for w in model.weights
               if w.name)


@pytest.mark.parametrize("kind", KEYS)
def test_named_parameters_are_the_state_keys_of_parameters_in_their_order(kind):
    make, keys = KEYS[kind]
    model = built(make)
    named = model.named_parameters()
    assert [p for _, p in named] == list(model.parameters())
    by_id = {id(w): k for k, w in zip(keys, model.weights)}
    assert [k for k, _ in named] == [by_id[id(p)] for p in model.parameters()]
    if kind == "lists":  # the frozen layer's weights are state, not parameters
        assert "frozen.kernel" not in dict(named) and "scale" in dict(named)


def test_a_layer_and_a_model_with_its_own_weights_use_the_add_weight_names():
    dense = layers.Dense(3, input_dim=5)
    assert list(dense.state_dict()) == ["kernel", "bias"]
    assert [k for k, _ in dense.named_parameters()] == ["kernel", "bias"]

    class Affine(fn.Model):
        def __init__(self):
            super().__init__()
            self.inner = layers.Dense(4)
            self.shift = self.add_weight("shift", (4,), "zeros")

        def call(self, x):
            return self.inner(x) + self.shift

    assert list(built(Affine, 6).state_dict()) == ["inner.kernel", "inner.bias", "shift"]


def test_state_dict_values_are_copies():
    model = built(Net)
    state = model.state_dict()
    before = np.array(model.d1.kernel, copy=True)
    state["d1.kernel"][...] = 123.0
    np.testing.assert_array_equal(np.asarray(model.d1.kernel), before)


def test_add_weight_rejects_a_name_the_layer_already_has():
    layer = layers.Dense(2, input_dim=3)
    with pytest.raises(ValueError, match=r"Dense '.*'\.add_weight: .*'kernel'"):
        layer.add_weight("kernel", (3, 2))


# --- moving state between instances --------------------------------------------------------------

@pytest.mark.parametrize("kind", KEYS)
@pytest.mark.parametrize("as_tensors", [False, True])
def test_state_moves_to_another_instance_whatever_was_made_in_between(kind, as_tensors):
    make, _ = KEYS[kind]
    source = built(make)
    for units in (2, 5, 1):  # shifts the Keras names of everything made after
        layers.Dense(units)
    fn.Sequential([layers.Dense(3)])
    target = built(make)
    assert [w.name for w in source.weights] != [w.name for w in target.weights]
    x = batch(7, 11)
    with fn.no_grad():
        theirs = np.asarray(source(x))
        assert not np.array_equal(np.asarray(target(x)), theirs)  # fresh random weights
        state = source.state_dict()
        if as_tensors:
            state = {k: fn.tensor(v, dtype=v.dtype) for k, v in state.items()}
        target.load_state_dict(state)
        np.testing.assert_array_equal(np.asarray(target(x)), theirs)
    for a, b in zip(source.weights, target.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_load_state_dict_writes_in_place():
    source, target = built(Net), built(Net)
    kernel = target.d1.kernel
    target.load_state_dict(source.state_dict())
    assert target.d1.kernel is kernel
    np.testing.assert_array_equal(np.asarray(kernel), np.asarray(source.d1.kernel))


# --- errors --------------------------------------------------------------------------------------

def _unchanged(model):
    return [np.array(w, copy=True) for w in model.weights]


def test_a_wrong_shape_names_the_key_and_changes_nothing():
    model = built(Net)
    state = built(Net).state_dict()
    state["d2.kernel"] = np.zeros((3, 13), np.float32)  # transposed: (13, 3) expected
    before = _unchanged(model)
    with pytest.raises(ValueError, match=r"Net '.*'\.load_state_dict: expected 'd2.kernel' of "
                                         r"shape \(13, 3\), got \(3, 13\)"):
        model.load_state_dict(state)
    for w, b in zip(model.weights, before):  # d1's keys come first and were not written
        np.testing.assert_array_equal(np.asarray(w), b)


def test_missing_and_unexpected_keys_are_listed():
    model = built(Net)
    state = model.state_dict()
    state.pop("d1.bias")
    state["d3.kernel"] = np.zeros((2, 2), np.float32)
    with pytest.raises(KeyError, match=r"missing keys \['d1.bias'\] and unexpected keys "
                                       r"\['d3.kernel'\]"):
        model.load_state_dict(state)


def test_keras_names_are_not_accepted_as_keys():
    model = built(Net)
    with pytest.raises(KeyError, match="missing keys"):
        model.load_state_dict({w.name: np.asarray(w) for w in model.weights})


def test_non_numeric_values_and_non_dicts_are_refused():
    model = built(Net)
    state = model.state_dict()
    state["d1.bias"] = np.array(["a"] * 13)
    with pytest.raises(TypeError, match="'d1.bias'.*dtype <U1"):
        model.load_state_dict(state)
    with pytest.raises(TypeError, match="expected a dict"):
        model.load_state_dict([np.zeros(1)])


def test_an_unbuilt_model_says_so():
    with pytest.raises(KeyError, match="not built yet"):
        Net().load_state_dict(built(Net).state_dict())
