"""The CUDA backend as a device: transfers, errors that leave the process alive, models moved
with model.to, and a captured step replayed as a CUDA graph against eager steps. Skipped
where no GPU is present (`pytest -m cuda` on a lent GPU: bench/gpu_check.sh)."""

import numpy as np
import pytest

import fastnn as fn
from fastnn import _C, layers

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not fn.cuda.is_available(), reason="no CUDA device")]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
@pytest.mark.parametrize("shape", [(0,), (1,), (7, 3), (2, 3, 5, 7)])
def test_values_go_to_the_device_and_back_unchanged(dtype, shape):
    x = (np.random.default_rng(0).standard_normal(shape) * 100).astype(dtype)
    t = fn.tensor(x, dtype=dtype, device="cuda")  # float data defaults to float32
    assert t.device == "cuda:0" and t.dtype == dtype and t.shape == shape
    np.testing.assert_array_equal(t.numpy(), x)
    np.testing.assert_array_equal(t.cpu().numpy(), x)
    back = t.to("cpu")
    assert back.device == "cpu" and t.to("cuda:0") is t
    np.testing.assert_array_equal(np.asarray(back), x)


def test_numpy_views_of_device_memory_are_refused():
    t = fn.tensor([1.0, 2.0], device="cuda")
    with pytest.raises(TypeError, match="use .numpy\\(\\) or .cpu\\(\\)"):
        np.asarray(t)


def test_device_queries():
    assert fn.cuda.device_count() >= 1 and fn.cuda.unavailable_reason() == ""
    assert isinstance(fn.cuda.get_device_name(0), str) and fn.cuda.get_device_name(0)
    with pytest.raises(ValueError, match=f"cuda:{fn.cuda.device_count()}' is not available"):
        fn.tensor([1.0], device=f"cuda:{fn.cuda.device_count()}")
    fn.cuda.synchronize()


def test_mixing_devices_in_one_op_is_a_clear_error():
    a = fn.tensor(np.ones((2, 3)), device="cuda")
    b = fn.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="cuda:0|cpu"):
        a + b
    with pytest.raises(ValueError, match="cuda:0|cpu"):
        b @ fn.tensor(np.ones((3, 2)), device="cuda")
    np.testing.assert_array_equal((a + a).numpy(), np.full((2, 3), 2.0))  # still usable


def test_out_of_memory_is_a_memory_error_and_the_device_stays_usable():
    with pytest.raises(MemoryError, match="out of memory"):
        _C.uniform([1 << 40], 0.0, 1.0, "float32", "cuda")  # 4 TiB
    t = fn.randn(1000, device="cuda")
    assert np.isfinite(t.numpy()).all()


def test_rand_on_the_device_is_the_cpus_for_the_same_seed():
    fn.manual_seed(123)
    cpu = fn.rand(10_001).numpy()
    fn.manual_seed(123)
    gpu = fn.rand(10_001, device="cuda").numpy()
    np.testing.assert_array_equal(cpu, gpu)


def _model(seed):
    fn.manual_seed(seed)
    return fn.Sequential([layers.Dense(32, activation="relu"), layers.Dense(16, activation="tanh"),
                          layers.Dense(3)], input_shape=(9,))


def _train(model, device, steps, x, y):
    """A PyTorch-style loop on `device`; the losses it saw."""
    model.to(device)
    opt = fn.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = fn.losses.SparseCategoricalCrossentropy(from_logits=True)
    xt, yt = fn.tensor(x, device=device), fn.tensor(y, device=device)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(yt, model(xt, training=True))
        loss.backward()
        opt.step()
        losses.append(float(loss.numpy()))
    return losses


def test_a_model_moved_to_the_gpu_trains_as_on_the_cpu():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 9)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    cpu, gpu = _model(5), _model(5)
    cpu_losses = _train(cpu, "cpu", 20, x, y)
    gpu_losses = _train(gpu, "cuda", 20, x, y)
    assert all(w.device == "cuda:0" for w in gpu.weights)
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=2e-4)
    for a, b in zip(gpu.get_weights(), cpu.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    gpu.to("cpu")
    assert all(w.device == "cpu" for w in gpu.weights)


def test_a_captured_step_replays_as_a_graph_like_eager_steps():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 9)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    eager, captured = _model(7).to("cuda"), _model(7).to("cuda")
    loss_fn = fn.losses.SparseCategoricalCrossentropy(from_logits=True)
    xt, yt = fn.tensor(x, device="cuda"), fn.tensor(y, device="cuda")

    def step(model, opt):
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(yt, model(xt, training=True))
        loss.backward()
        opt.step()
        return loss

    eager_opt = fn.optim.SGD(eager.parameters(), lr=0.05, momentum=0.9)
    eager_losses = [float(step(eager, eager_opt).numpy()) for _ in range(6)]

    opt = fn.optim.SGD(captured.parameters(), lr=0.05, momentum=0.9)
    first = step(captured, opt)  # makes the gradients and the optimizer's state
    plan = _C.Plan()
    plan.begin_capture()
    loss = step(captured, opt)
    plan.end_capture(list(captured.parameters()))
    assert plan.refusal == ""
    losses = [float(first.numpy()), float(loss.numpy())]
    for _ in range(4):
        plan.replay()  # the first replay captures the CUDA graph, then launches it
        losses.append(float(loss.numpy()))
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    for a, b in zip(captured.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_an_optimizer_made_before_model_to_says_so():
    model = _model(3)
    opt = fn.optim.SGD(model.parameters(), lr=0.1)
    model.to("cuda")
    x = fn.tensor(np.ones((2, 9), np.float32), device="cuda")
    model(x).sum().backward()
    with pytest.raises(ValueError, match="made for parameters on cpu"):
        opt.step()
