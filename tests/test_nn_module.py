"""fastnn.nn's Module, containers and Linear against torch.nn (float64, copied weights):
names and order of parameters and state_dict keys, structure walks, modes, dtype casts,
Linear's values and gradients; saving a Module; and the PyTorch/TensorFlow call forms the
seeds use around them."""

import os
import warnings

import numpy as np
import pytest

import fastnn as fn
import fastnn.nn as nn

torch = pytest.importorskip("torch")


def _pair():
    """The same model in fastnn.nn and torch.nn: a direct parameter, a buffer, a
    ModuleList, a ModuleDict and a Sequential."""
    def build(lib, tensor, make_buffer):
        class Net(lib.Module):
            def __init__(self):
                super().__init__()
                self.scale = lib.Parameter(tensor(np.linspace(0.5, 1.5, 3)))
                self.blocks = lib.ModuleList([lib.Linear(5, 7), lib.Linear(7, 7, bias=False)])
                self.heads = lib.ModuleDict({"a": lib.Linear(7, 3)})
                self.tail = lib.Sequential(lib.Linear(3, 4), lib.Linear(4, 3))
                self.register_buffer("offset", make_buffer(np.arange(3.0)))

            def forward(self, x):
                for block in self.blocks:
                    x = block(x).relu()
                return self.tail(self.heads["a"](x)) * self.scale + self.offset

        return Net()

    mine = build(nn, lambda a: fn.from_numpy(a.astype(np.float32)),
                 lambda a: fn.from_numpy(a.astype(np.float32))).double()
    theirs = build(torch.nn, lambda a: torch.tensor(a, dtype=torch.float32),
                   lambda a: torch.tensor(a, dtype=torch.float32)).double()
    mine.load_state_dict(theirs.state_dict())
    return mine, theirs


def test_keys_order_and_structure_match_torch():
    mine, theirs = _pair()
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert [k for k, _ in mine.named_parameters()] == [k for k, _ in theirs.named_parameters()]
    assert [k for k, _ in mine.named_buffers()] == [k for k, _ in theirs.named_buffers()]
    assert [k for k, _ in mine.named_children()] == [k for k, _ in theirs.named_children()]
    assert [k for k, _ in mine.named_modules()] == [k for k, _ in theirs.named_modules()]
    assert len(mine.parameters()) == len(list(theirs.parameters()))
    assert isinstance(mine.scale, nn.Parameter) and not isinstance(mine.offset, nn.Parameter)
    assert mine.get_submodule("tail.1") is mine.tail[1]
    with pytest.raises(AttributeError, match="no submodule"):
        mine.get_submodule("tail.7")
    assert repr(mine.blocks[0]) == repr(theirs.blocks[0])
    visited = []
    mine.apply(lambda m: visited.append(type(m).__name__))
    theirs_visited = []
    theirs.apply(lambda m: theirs_visited.append(type(m).__name__))
    assert visited == theirs_visited


def test_forward_and_gradients_match_torch():
    mine, theirs = _pair()
    x = np.random.default_rng(0).standard_normal((9, 5))
    xm = fn.from_numpy(x.copy())
    xm.requires_grad = True
    xt = torch.tensor(x, requires_grad=True)
    ym, yt = mine(xm), theirs(xt)
    np.testing.assert_allclose(np.asarray(ym.detach()), yt.detach().numpy(), rtol=1e-12)
    g = np.random.default_rng(1).standard_normal(yt.shape)
    ym.backward(fn.from_numpy(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(np.asarray(xm.grad), xt.grad.numpy(), rtol=1e-10, atol=1e-13)
    for (k, p), (tk, tp) in zip(mine.named_parameters(), theirs.named_parameters()):
        assert k == tk
        np.testing.assert_allclose(np.asarray(p.grad), tp.grad.numpy(), rtol=1e-10, atol=1e-13)
    mine.zero_grad()
    assert all(p.grad is None for p in mine.parameters())


def test_linear_initialisation_and_layout():
    fn.manual_seed(3)
    layer = nn.Linear(40, 6)
    w, b = np.asarray(layer.weight), np.asarray(layer.bias)
    assert w.shape == (6, 40) and b.shape == (6,) and w.dtype == np.float32
    bound = 1 / np.sqrt(40)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.2 * bound / np.sqrt(3)
    fn.manual_seed(3)
    assert np.array_equal(np.asarray(nn.Linear(40, 6).weight), w)  # seeded
    assert nn.Linear(3, 2, bias=False).bias is None
    assert nn.Linear(3, 2, dtype=torch.float64).weight.dtype == "float64"
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(0, 2)
    with pytest.raises(ValueError, match="last dimension 3"):
        nn.Linear(3, 2)(fn.zeros(4, 5))


def test_modes_propagate_and_start_in_training():
    mine, _ = _pair()
    assert mine.training and all(m.training for m in mine.modules())
    mine.eval()
    assert not any(m.training for m in mine.modules())
    mine.train()
    assert all(m.training for m in mine.modules())


def test_load_state_dict_strict_and_not():
    mine, theirs = _pair()
    state = theirs.state_dict()
    del state["offset"]
    state["extra"] = torch.zeros(1)
    with pytest.raises(KeyError, match="missing keys"):
        mine.load_state_dict(state)
    result = mine.load_state_dict(state, strict=False)
    assert result.missing_keys == ["offset"] and result.unexpected_keys == ["extra"]
    with pytest.raises(ValueError, match="of shape"):
        mine.load_state_dict({**theirs.state_dict(), "scale": torch.zeros(4)})


def test_float_and_double_cast_every_weight():
    mine, _ = _pair()
    mine.float()
    assert {w.dtype for w in mine.weights} == {"float32"}
    assert mine.blocks[0].weight.dtype == "float32"
    mine.double()
    assert {w.dtype for w in mine.weights} == {"float64"}
    with pytest.raises(TypeError, match="float32 and float64"):
        mine.half()


def test_sequential_indexing_and_errors():
    seq = nn.Sequential(nn.Linear(2, 3), nn.Identity(), nn.Flatten())
    assert len(seq) == 3 and isinstance(seq[-1], nn.Flatten)
    assert isinstance(seq[:2], nn.Sequential) and len(seq[:2]) == 2
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    with pytest.raises(TypeError, match="positional"):
        nn.Module(3)
    with pytest.raises(NotImplementedError, match="forward"):
        nn.ModuleList([nn.Linear(2, 2)])(fn.zeros(1, 2))


def test_module_save_refused_and_weights_round_trip(tmp_path):
    """A Module's architecture is its code: save() says so and writes nothing;
    save_weights/load_weights round-trip every weight and buffer (0-d ones too)."""
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    model(np.random.default_rng(0).random((5, 4)).astype(np.float32))
    path = os.path.join(tmp_path, "m.safetensors")
    with pytest.raises(ValueError, match="architecture is its Python code"):
        model.save(path)
    assert not os.path.exists(path)
    model.save_weights(path)
    other = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    other.load_weights(path)
    for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert np.array_equal(a, b) and a.shape == b.shape, k


def test_multi_group_optimizer_compile_state_is_left_out_with_a_warning(tmp_path):
    model = fn.Sequential([fn.layers.Dense(3), fn.layers.Dense(2)], input_shape=(4,))
    opt = fn.optim.SGD([{"params": model.layers[0].parameters(), "lr": 0.1},
                        {"params": model.layers[1].parameters(), "lr": 0.0}], lr=0.1)
    model.compile(optimizer=opt, loss="mse")
    path = os.path.join(tmp_path, "m.safetensors")
    with pytest.warns(UserWarning, match="2 parameter groups"):
        model.save(path)
    assert not fn.load_model(path, compile=False)._compiled


def test_learning_rate_callbacks_scale_every_group():
    from fastnn.callbacks import _set_lr

    w1, w2 = fn.zeros(2, requires_grad=True), fn.zeros(2, requires_grad=True)
    opt = fn.optim.SGD([{"params": [w1], "lr": 0.1}, {"params": [w2], "lr": 0.02}], lr=0.1)
    _set_lr(opt, 0.05, "ReduceLROnPlateau")
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.01])


def test_tf_names_the_seeds_call():
    """tf.concat of one tensor returns it; a Keras loss called on plain values in Keras's
    (y_true, y_pred) order equals the (y_pred, y_true) call."""
    t = fn.tensor(np.arange(6.0).reshape(2, 3))
    assert fn.concat(t, axis=0) is t
    p = np.array([[0.7, 0.3], [0.2, 0.8]], np.float32)
    loss = fn.keras.losses.SparseCategoricalCrossentropy()
    assert float(loss(np.array([0, 1]), p)) == pytest.approx(float(loss(p, np.array([0, 1]))))
    assert float(loss(np.array([0, 1]), p)) == pytest.approx(-np.log([0.7, 0.8]).mean(), rel=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(fn.keras.losses.MeanSquaredError()(np.ones((2, 3)), np.zeros((2, 3)))) == 1.0


def test_frozen_parameters_stay_in_the_optimizer_and_are_skipped():
    """torch's fine-tuning idiom: requires_grad_(False) on a part, an optimizer over all of
    model.parameters(); the frozen part keeps its values until it is unfrozen."""
    fn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    model[0].requires_grad_(False)
    opt = fn.optim.SGD(model.parameters(), lr=0.1)
    frozen, trained = np.array(model[0].weight), np.array(model[1].weight)
    x = np.random.default_rng(0).random((5, 4)).astype(np.float32)
    model(x).sum().backward()
    opt.step()
    assert model[0].weight.grad is None
    assert np.array_equal(np.asarray(model[0].weight), frozen)
    assert not np.array_equal(np.asarray(model[1].weight), trained)
    model[0].requires_grad_(True)
    opt.zero_grad()
    model(x).sum().backward()
    opt.step()
    assert not np.array_equal(np.asarray(model[0].weight), frozen)


def test_recurse_false_gives_a_modules_own_parameters_and_buffers():
    mine, theirs = _pair()
    for method in ("named_parameters", "named_buffers"):
        assert ([k for k, _ in getattr(mine, method)(recurse=False)]
                == [k for k, _ in getattr(theirs, method)(recurse=False)])
    assert len(mine.parameters(recurse=False)) == len(list(theirs.parameters(recurse=False))) == 1
    assert [k for k, _ in mine.named_parameters(prefix="net.")][:2] == ["net.scale",
                                                                         "net.blocks.0.weight"]
    with pytest.raises(NotImplementedError, match="assign=True"):
        mine.load_state_dict(theirs.state_dict(), assign=True)


def test_sequential_sees_modules_set_appended_and_deleted_after_a_forward():
    # Sequential keeps its list of children between calls; every change must reach forward.
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    x = fn.tensor(np.random.default_rng(0).standard_normal((2, 3)))
    assert tuple(seq(x).shape) == (2, 4)
    seq.append(nn.Linear(4, 5))
    assert tuple(seq(x).shape) == (2, 5) and len(seq) == 3
    setattr(seq, "2", nn.Linear(4, 6))  # replaced under its key
    assert tuple(seq(x).shape) == (2, 6)
    delattr(seq, "2")
    assert tuple(seq(x).shape) == (2, 4) and len(list(seq)) == 2
    assert [name for name, _ in seq.named_children()] == ["0", "1"]
