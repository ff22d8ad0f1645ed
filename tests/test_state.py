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
from fastnn import layers, losses, optim, optimizers

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


def test_a_shared_layer_keeps_its_first_key_and_clashing_keys_are_refused():
    class Shared(fn.Model):
        def __init__(self):
            super().__init__()
            self.first = layers.Dense(5)
            self.again = [self.first]
            self.last = layers.Dense(5)

        def call(self, x):
            return self.last(self.again[0](self.first(x)))

    model = built(lambda: Shared(), 5)
    assert list(model.state_dict()) == ["first.kernel", "first.bias", "last.kernel",
                                        "last.bias"]

    class Clash(fn.Model):
        def __init__(self):
            super().__init__()
            self.scale = fn.Parameter(np.ones(3))
            self.add_weight("scale", (3,))

        def call(self, x):
            return x * self.scale

    with pytest.raises(ValueError, match=r"Clash '.*'\.state_dict: expected unique weight "
                                         r"keys, got \['scale'\]"):
        Clash().state_dict()


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


# --- optimizer state -------------------------------------------------------------------------

X = RNG.standard_normal((41, 11)).astype(np.float32)
Y = RNG.integers(0, 3, 41)
LOSS = losses.SparseCategoricalCrossentropy(from_logits=True)

OPTIMIZERS = {
    "adam": lambda ps: optim.Adam(ps, lr=0.01),
    "adam_amsgrad": lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.01),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01),
    "sgd_momentum": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
    "sgd_dampening": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.3),
    "sgd_nesterov": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True),
    "rmsprop": lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda ps: optim.Adagrad(ps, lr=0.05, initial_accumulator_value=0.1),
}


def train(model, opt, first, steps):
    """PyTorch-style steps over 13-row batches (the last one smaller); returns the losses."""
    out = []
    for k in range(first, first + steps):
        rows = slice(k % 4 * 13, k % 4 * 13 + 13)
        loss = LOSS(model(X[rows], training=True), Y[rows])
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append(loss.item())
    return out


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("make", [Stack, Outer], ids=["lists", "nested"])
def test_training_continues_bitwise_in_fresh_instances(name, make):
    make_opt = OPTIMIZERS[name]
    source = built(make)
    source_opt = make_opt(source.parameters())
    train(source, source_opt, 0, 3)
    model_state, opt_state = source.state_dict(), source_opt.state_dict()
    expected = train(source, source_opt, 3, 5)

    layers.Dense(4)  # different Keras names
    target = built(make)
    target_opt = make_opt(target.parameters())
    fresh = [np.array(p, copy=True) for p in target.parameters()]
    target_opt.load_state_dict(opt_state)
    # Creating the C++ state (an update that changes nothing) left the parameters alone.
    for p, f in zip(target.parameters(), fresh):
        np.testing.assert_array_equal(np.asarray(p), f)
    assert all(p.grad is None for p in target.parameters())
    target.load_state_dict(model_state)
    assert train(target, target_opt, 3, 5) == expected  # bitwise

    got = target_opt.state_dict()
    for i, entry in source_opt.state_dict()["state"].items():
        assert got["state"][i]["step"] == entry["step"] == 8
        assert set(got["state"][i]) == set(entry)
        for k, v in entry.items():
            np.testing.assert_array_equal(got["state"][i][k], v)


@pytest.mark.parametrize("make_opt", [
    lambda ps: optim.Adam(ps, lr=0.1, eps=0.0, weight_decay=0.5),
    lambda ps: optim.AdamW(ps, lr=0.1, eps=0.0, weight_decay=0.5),
    lambda ps: optim.RMSprop(ps, lr=0.1, eps=0.0, weight_decay=0.5),
], ids=["adam", "adamw", "rmsprop"])
def test_creating_the_state_changes_no_parameter_even_with_eps_zero(make_opt):
    """The C++ state appears at a first update; load_state_dict runs one that must leave
    the parameters exactly as they are (zero gradients alone would give 0/0 with eps 0)."""
    def params():
        return [fn.Parameter(RNG.standard_normal((3, 5))), fn.Parameter(RNG.standard_normal(5))]

    source = params()
    opt = make_opt(source)
    loss = (fn.matmul(fn.tensor(RNG.standard_normal((4, 3))), source[0]) * source[1]).sum()
    loss.backward()
    opt.step()
    target = params()
    before = [np.array(p, copy=True) for p in target]
    target_opt = make_opt(target)
    target_opt.load_state_dict(opt.state_dict())
    for p, b in zip(target, before):
        np.testing.assert_array_equal(np.asarray(p), b)
    for i, entry in opt.state_dict()["state"].items():
        for k, v in entry.items():
            np.testing.assert_array_equal(target_opt.state_dict()["state"][i][k], v)


def test_loading_into_an_optimizer_that_already_stepped():
    source, target = built(Net), built(Net)
    source_opt, target_opt = optim.Adam(source.parameters(), lr=0.02), optim.Adam(
        target.parameters(), lr=0.02)
    train(source, source_opt, 0, 2)
    train(target, target_opt, 0, 5)  # other state and step counts
    opt_state, model_state = source_opt.state_dict(), source.state_dict()
    expected = train(source, source_opt, 2, 4)
    target_opt.load_state_dict(opt_state)
    target.load_state_dict(model_state)
    assert train(target, target_opt, 2, 4) == expected


def test_hyperparameters_come_with_the_state():
    source, target = built(Net), built(Net)
    source_opt = optim.SGD(source.parameters(), lr=0.03, momentum=0.7)
    train(source, source_opt, 0, 1)
    target_opt = optim.SGD(target.parameters(), lr=0.5, momentum=0.2)
    target_opt.load_state_dict(source_opt.state_dict())
    assert target_opt.lr == 0.03 and target_opt.param_groups[0]["momentum"] == 0.7
    target.load_state_dict(source.state_dict())
    assert train(target, target_opt, 1, 3) == train(source, source_opt, 1, 3)


def test_parameters_never_updated_keep_no_state():
    """A parameter without a gradient has no state; the fresh optimizer creates none."""
    source, target = built(Net), built(Net)
    source_opt = optim.SGD(source.parameters(), lr=0.05, momentum=0.9, dampening=0.5)
    target_opt = optim.SGD(target.parameters(), lr=0.05, momentum=0.9, dampening=0.5)
    for _ in range(2):  # only d2 learns
        loss = LOSS(source.d2(batch(13, 13)), Y[:13])
        source_opt.zero_grad()
        loss.backward()
        source_opt.step()
    state = source_opt.state_dict()
    assert [bool(set(s) - {"step"}) for s in state["state"].values()] == [False] * 2 + [True] * 2
    target_opt.load_state_dict(state)
    target.load_state_dict(source.state_dict())
    assert [set(s) for s in target_opt.state_dict()["state"].values()] == [
        set(s) for s in state["state"].values()]
    assert train(target, target_opt, 0, 3) == train(source, source_opt, 0, 3)


def _snapshot(opt):
    state = opt.state_dict()
    return {i: {k: np.array(v, copy=True) for k, v in s.items()} for i, s in
            state["state"].items()}, state["param_groups"]


def _same(a, b):
    assert a[1] == b[1] and a[0].keys() == b[0].keys()
    for i in a[0]:
        assert a[0][i].keys() == b[0][i].keys()
        for k in a[0][i]:
            np.testing.assert_array_equal(a[0][i][k], b[0][i][k])


@pytest.mark.parametrize("corrupt,exc,pattern", [
    (lambda s: s["state"][2].update(exp_avg=np.zeros((3, 13), np.float32)), ValueError,
     r"expected state\[2\]\['exp_avg'\] of shape \(13, 3\).*got \(3, 13\)"),
    (lambda s: s["state"][1].pop("exp_avg_sq"), ValueError,
     r"expected state\[1\] to hold \['exp_avg', 'exp_avg_sq'\].*got \['exp_avg'\]"),
    (lambda s: s["state"].pop(3), KeyError, r"missing \[3\] and unexpected \[\]"),
    (lambda s: s["state"][0].update(step=-1), ValueError, r"state\[0\]\['step'\].*>= 0"),
    (lambda s: s["param_groups"][0].pop("eps"), KeyError, r"missing \['eps'\]"),
    (lambda s: s["param_groups"][0].update(lr=-1.0), ValueError, "lr >= 0"),
    (lambda s: s["param_groups"].append({}), ValueError, "a list of one dict"),
], ids=["shape", "names", "index", "step", "group_keys", "group_value", "groups"])
def test_bad_optimizer_state_is_refused_before_anything_changes(corrupt, exc, pattern):
    source, target = built(Net), built(Net)
    source_opt = optim.Adam(source.parameters(), lr=0.01)
    target_opt = optim.Adam(target.parameters(), lr=0.02)
    train(source, source_opt, 0, 2)
    train(target, target_opt, 0, 1)
    state = source_opt.state_dict()
    corrupt(state)
    before, weights = _snapshot(target_opt), _unchanged(target)
    with pytest.raises(exc, match=pattern):
        target_opt.load_state_dict(state)
    _same(_snapshot(target_opt), before)
    for w, b in zip(target.weights, weights):
        np.testing.assert_array_equal(np.asarray(w), b)


def test_state_cannot_be_dropped_from_an_optimizer_that_has_it():
    source, target = built(Net), built(Net)
    source_opt = optim.Adam(source.parameters())
    target_opt = optim.Adam(target.parameters())
    train(target, target_opt, 0, 1)
    with pytest.raises(ValueError, match="parameter 0 .*got none"):
        target_opt.load_state_dict(source_opt.state_dict())  # the source never stepped


# --- through compile / fit with a Keras optimizer -------------------------------------------

@pytest.mark.parametrize("make_opt", [
    lambda: optimizers.Adam(learning_rate=0.01),
    lambda: optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
    lambda: optimizers.RMSprop(learning_rate=0.01, momentum=0.3),
], ids=["adam", "sgd", "rmsprop"])
@pytest.mark.parametrize("capture", [True, False])
def test_fit_continues_bitwise_after_moving_model_and_keras_optimizer(make_opt, capture):
    def make():
        model = sequential()
        model.compile(optimizer=make_opt(), loss=LOSS, capture=capture)
        return model

    source = make()
    source.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    model_state, opt_state = source.state_dict(), source.optimizer.state_dict()
    expected = source.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    layers.Dense(3)
    target = make()
    lr = target.optimizer.learning_rate
    target.load_state_dict(model_state)
    target.optimizer.load_state_dict(opt_state)
    assert target.optimizer.iterations == opt_state["iterations"] == 12
    assert target.optimizer.learning_rate == lr  # Keras: the hyperparameters stay its own
    got = target.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert got.history["loss"] == expected.history["loss"]
    assert target.optimizer.iterations == source.optimizer.iterations == 24


def test_keras_optimizer_state_needs_iterations():
    model = sequential()
    model.compile(optimizer="adam", loss=LOSS)
    state = model.optimizer.state_dict()
    del state["iterations"]
    with pytest.raises(ValueError, match="'iterations'"):
        model.optimizer.load_state_dict(state)
