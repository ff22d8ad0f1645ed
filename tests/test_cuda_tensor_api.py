"""The tensor API's CUDA kernels (cuda/math_ops.cu, reduce.cu, index.cu, the Bool casts and
the binary ops of every dtype in elementwise.cu) against the CPU: the cases of
test_tensor_api.py run on both devices with the same inputs and cotangents, comparing
values and gradients. float64 to 1e-10 relative to the array's scale (sums add in another
order on the GPU), integers and bools exactly."""

import numpy as np
import pytest

import fastnn as fn

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not fn.cuda.is_available(), reason="no CUDA device")]

from test_tensor_api import CASES, _array, _flat  # noqa: E402 - after the skip marks

# Cases that make tensors of their own (fn.zeros, fn.arange) on the CPU.
_CPU_ONLY = {"setitem leaf constant", "index ints tensors", "size dim numel"}


def _run(device, specs, f, seed):
    rng = np.random.default_rng(seed)
    arrays = [_array(s, rng) for s in specs]
    inputs = [fn.tensor(a, dtype=a.dtype.name, device=device,
                        requires_grad=a.dtype == np.float64) for a in arrays]
    outputs = [o for o in _flat(f(fn, *inputs)) if isinstance(o, fn.Tensor)]
    values = [o.numpy() for o in outputs]
    losses = [(o * fn.tensor(rng.standard_normal(o.shape), dtype=str(o.dtype), device=device)).sum()
              for o in outputs if o.requires_grad]
    if losses:
        sum(losses[1:], losses[0]).backward()
    grads = [x.grad.numpy() if x.grad is not None else None for x in inputs]
    return values, grads


def _same(gpu, cpu, what):
    assert gpu.dtype == cpu.dtype and gpu.shape == cpu.shape, what
    if cpu.dtype.kind == "f":
        scale = max(1.0, float(np.nanmax(np.abs(cpu)))) if cpu.size else 1.0
        np.testing.assert_allclose(gpu, cpu, rtol=1e-10, atol=1e-10 * scale, err_msg=what)
    else:
        np.testing.assert_array_equal(gpu, cpu, err_msg=what)


@pytest.mark.parametrize("name,specs,f", [c for c in CASES if c[0] not in _CPU_ONLY],
                         ids=[c[0] for c in CASES if c[0] not in _CPU_ONLY])
def test_cuda_matches_cpu(name, specs, f):
    seed = np.random.SeedSequence().entropy
    cpu_values, cpu_grads = _run("cpu", specs, f, seed)
    gpu_values, gpu_grads = _run("cuda", specs, f, seed)
    for k, (g, c) in enumerate(zip(gpu_values, cpu_values)):
        _same(g, c, f"{name}: output {k} (seed {seed})")
    for k, (g, c) in enumerate(zip(gpu_grads, cpu_grads)):
        assert (g is None) == (c is None), f"{name}: gradient {k}"
        if c is not None:
            _same(g, c, f"{name}: gradient {k} (seed {seed})")


def test_cuda_bool_round_trip_and_counts():
    a = np.random.default_rng(0).random((33, 7)) < 0.5
    t = fn.tensor(a, device="cuda")
    assert t.dtype == "bool" and np.array_equal(t.numpy(), a)
    assert t.sum().item() == int(a.sum())
    assert np.array_equal(t.long().numpy(), a.astype(np.int64))
    assert np.array_equal(fn.tensor(a.astype(np.float32), device="cuda").bool().numpy(), a)


def test_cuda_index_assign_keeps_the_last_of_repeated_indices():
    x = fn.zeros(6, device="cuda")
    x[[1, 3, 1, 1]] = fn.tensor([1.0, 2.0, 3.0, 4.0], device="cuda")
    assert x.tolist() == [0.0, 4.0, 0.0, 2.0, 0.0, 0.0]
