"""Gradients without .grad: fn.autograd.grad against torch.autograd.grad, and
fn.GradientTape with TensorFlow's contract (structures, None for unconnected sources, one
call unless persistent, watch), driving a Keras optimizer through apply_gradients."""

import numpy as np
import pytest

import fastnn as fn
from fastnn import layers


def _mlp_values(rng):
    return (rng.standard_normal((7, 5)), rng.standard_normal((5, 4)), rng.standard_normal(4),
            rng.standard_normal((4, 3)))


def _fastnn_mlp(values):
    x, w1, b1, w2 = (fn.tensor(v, dtype="float64", requires_grad=i > 0)
                     for i, v in enumerate(values))
    h = fn.tanh(x @ w1 + b1)
    loss = fn.sum(fn.sigmoid(h @ w2) * (h @ w2))
    return loss, h, (w1, b1, w2)


def test_grad_matches_torch_and_leaves_grad_alone():
    torch = pytest.importorskip("torch")
    values = _mlp_values(np.random.default_rng(0))
    loss, h, params = _fastnn_mlp(values)
    grads = fn.autograd.grad(loss, [*params, h])
    assert all(p.grad is None for p in params)

    tx, tw1, tb1, tw2 = (torch.tensor(v, requires_grad=i > 0) for i, v in enumerate(values))
    th = torch.tanh(tx @ tw1 + tb1)
    tloss = (torch.sigmoid(th @ tw2) * (th @ tw2)).sum()
    expected = torch.autograd.grad(tloss, [tw1, tb1, tw2, th])
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-12, atol=1e-14)


def test_grad_equals_backward_and_frees_the_graph_unless_retained():
    values = _mlp_values(np.random.default_rng(1))
    loss, _, params = _fastnn_mlp(values)
    grads = fn.autograd.grad(loss, params, retain_graph=True)
    loss.backward()
    for g, p in zip(grads, params):
        np.testing.assert_array_equal(g.numpy(), p.grad.numpy())
    loss2, _, params2 = _fastnn_mlp(values)
    fn.autograd.grad(loss2, params2)
    with pytest.raises(RuntimeError, match="second time"):
        fn.autograd.grad(loss2, params2)


def test_grad_unused_inputs_and_bad_arguments():
    a = fn.tensor([1.0, 2.0], requires_grad=True)
    b = fn.tensor([3.0], requires_grad=True)
    out = fn.sum(a * a)
    with pytest.raises(RuntimeError, match="input 1 was not used"):
        fn.autograd.grad(out, [a, b], retain_graph=True)
    ga, gb = fn.autograd.grad(out, [a, b], allow_unused=True, retain_graph=True)
    np.testing.assert_array_equal(ga.numpy(), [2.0, 4.0])
    assert gb is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        fn.autograd.grad(out, [fn.tensor([1.0])], retain_graph=True)
    with pytest.raises(ValueError, match="create_graph"):
        fn.autograd.grad(out, [a], create_graph=True)
    with pytest.raises(TypeError, match="fastnn tensors"):
        fn.autograd.grad(out, [np.ones(2)])
    # A listed input twice gets its gradient twice; a non-scalar output needs grad_outputs.
    g1, g2 = fn.autograd.grad(out, [a, a], retain_graph=True)
    np.testing.assert_array_equal(g1.numpy(), g2.numpy())
    with pytest.raises(RuntimeError, match="one\\s+element"):
        fn.autograd.grad(a * 2.0, [a])
    (g,) = fn.autograd.grad(a * 2.0, [a], grad_outputs=[fn.tensor([1.0, 10.0])])
    np.testing.assert_array_equal(g.numpy(), [2.0, 20.0])


def test_tape_keeps_the_structure_and_says_none_for_unconnected():
    w = fn.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    v = fn.tensor(np.ones(3), requires_grad=True)
    unused = fn.tensor(np.ones(4), requires_grad=True)
    with fn.GradientTape() as tape:
        y = fn.sum(w * v)
    grads = tape.gradient(y, {"w": w, "pair": (v, unused)})
    assert set(grads) == {"w", "pair"} and isinstance(grads["pair"], tuple)
    np.testing.assert_array_equal(grads["w"].numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(grads["pair"][0].numpy(), [3.0, 5.0, 7.0])
    assert grads["pair"][1] is None
    with pytest.raises(RuntimeError, match="non-persistent GradientTape"):
        tape.gradient(y, [w])


def test_tape_zero_unconnected_persistent_watch_and_non_scalar_targets():
    x = fn.tensor([1.0, -2.0, 3.0])  # a constant: watched explicitly
    unused = fn.tensor([5.0], requires_grad=True)
    with fn.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x  # non-scalar: its sum's gradient, as TensorFlow
        z = fn.sum(x * 3.0)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [2.0, -4.0, 6.0])
    np.testing.assert_array_equal(tape.gradient(z, [x])[0].numpy(), [3.0, 3.0, 3.0])
    (zero,) = tape.gradient(z, [unused], unconnected_gradients="zero")
    np.testing.assert_array_equal(zero.numpy(), [0.0])
    assert tape.watched_variables()[0] is x
    with pytest.raises(ValueError, match="unconnected_gradients"):
        tape.gradient(z, [x], unconnected_gradients="nan")
    with fn.GradientTape() as tape2:
        c = fn.tensor([1.0]) * 2.0  # nothing watched
    assert tape2.gradient(c, [x]) == [None]


def _model(seed):
    fn.manual_seed(seed)
    return fn.Sequential([layers.Dense(8, activation="sigmoid"), layers.Dense(3)],
                         input_shape=(5,))


def test_a_tape_loop_with_apply_gradients_is_the_backward_loop():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 5)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    loss_fn = fn.losses.SparseCategoricalCrossentropy(from_logits=True)

    tape_model, eager_model = _model(4), _model(4)
    tape_opt = fn.optimizers.Adam(learning_rate=0.01)
    eager_opt = fn.optimizers.Adam(learning_rate=0.01)
    eager_opt.build(eager_model.trainable_variables)
    tape_losses, eager_losses = [], []
    for _ in range(15):
        with fn.GradientTape() as tape:
            loss = loss_fn(y, tape_model(x, training=True))
        grads = tape.gradient(loss, tape_model.trainable_variables)
        tape_opt.apply_gradients(zip(grads, tape_model.trainable_variables))
        tape_losses.append(float(loss.numpy()))

        eager_opt.zero_grad()
        loss = loss_fn(y, eager_model(x, training=True))
        loss.backward()
        eager_opt.step()
        eager_losses.append(float(loss.numpy()))
    assert tape_losses == eager_losses and tape_losses[-1] < tape_losses[0]
    for a, b in zip(tape_model.get_weights(), eager_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert tape_model.trainable_variables == tape_model.trainable_weights


def test_reduce_names():
    x = fn.tensor(np.arange(6.0).reshape(2, 3))
    assert float(fn.reduce_sum(x).numpy()) == 15.0
    np.testing.assert_array_equal(fn.reduce_mean(x, axis=0).numpy(), [1.5, 2.5, 3.5])
    assert fn.reduce_mean(x, axis=1, keepdims=True).shape == (2, 1)


def test_reduce_mean_of_a_list_of_losses_as_seed_001_writes_it():
    losses = [fn.tensor(1.5), fn.tensor(2.5), fn.tensor(5.0)]
    assert float(fn.reduce_mean(losses).numpy()) == 3.0
    rows = [fn.tensor([1.0, 2.0]), fn.tensor([3.0, 6.0])]
    np.testing.assert_array_equal(fn.reduce_sum(rows, axis=0).numpy(), [4.0, 8.0])
