"""Devices without a GPU: every request for CUDA raises a clear ValueError naming what is
missing, the process survives, and CPU tensors move and copy as before. (The CUDA backend's
own checks are the test_cuda_*.py files, which run where a GPU is present.)"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastnn as fn
from fastnn import _C

needs_no_gpu = pytest.mark.skipif(fn.cuda.is_available(), reason="a GPU is present")


@needs_no_gpu
@pytest.mark.parametrize("make", [
    lambda: fn.tensor([1.0, 2.0], device="cuda"),
    lambda: fn.tensor([1.0, 2.0], device="cuda:1"),
    lambda: fn.tensor([1.0, 2.0]).to("cuda"),
    lambda: fn.tensor([1.0, 2.0]).cuda(),
    lambda: fn.randn(3, 4, device="cuda"),
    lambda: fn.rand(3, device="cuda:0"),
])
def test_asking_for_cuda_without_one_names_what_is_missing(make):
    with pytest.raises(ValueError, match=r"device 'cuda(:\d)?' is not available: \S+") as e:
        make()
    assert fn.cuda.unavailable_reason() in str(e.value)
    assert fn.tensor([1.0]).numpy()[0] == 1.0  # the process goes on


@pytest.mark.parametrize("name", ["gpu", "cuda:", "cuda:x", "cuda:-1", "CPU"])
def test_a_malformed_device_name_is_refused(name):
    with pytest.raises(ValueError, match="expected 'cpu', 'cuda' or 'cuda:N'"):
        fn.tensor([1.0], device=name)


def test_cpu_moves_are_the_tensor_itself():
    t = fn.tensor(np.arange(6.0).reshape(2, 3))
    assert t.to("cpu") is t and t.cpu() is t
    assert t.to_device("cpu").numpy().tolist() == t.numpy().tolist()
    assert fn.randn(2, 3, device="cpu").shape == (2, 3)


def _child(code):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


def test_a_missing_backend_library_is_a_reason_not_a_crash():
    # In a child: the loader remembers its first result for the rest of the process.
    r = _child("""
        import fastnn as fn
        from fastnn import _C
        why = _C.load_cuda_backend("/nonexistent/libfastnn_cuda.so")
        print(why)
        assert "could not be loaded" in why, why
        assert _C.load_cuda_backend("/also/nonexistent.so") == why  # loaded once
        try:
            fn.tensor([1.0], device="cuda")
        except ValueError as e:
            assert "could not be loaded" in str(e), e
        else:
            raise AssertionError("no error")
    """)
    assert r.returncode == 0, r.stderr


def test_a_library_without_the_entry_point_is_refused():
    r = _child(f"""
        from fastnn import _C
        why = _C.load_cuda_backend({_C.__file__!r})
        assert "has no fastnn_backend_init" in why, why
        assert not _C.has_cuda_backend()
    """)
    assert r.returncode == 0, r.stderr


def test_optimizer_state_follows_the_parameters():
    w = fn.tensor(np.ones((3, 2)), requires_grad=True)
    opt = fn.optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    assert opt.state_dict()["state"][0]["step"] == 1


def test_model_to_the_cpu_keeps_it_as_it_is():
    from fastnn import layers

    fn.manual_seed(3)
    m = fn.Sequential([layers.Dense(4, activation="relu"), layers.Dropout(0.5, seed=1),
                       layers.Dense(2)])
    x = np.random.default_rng(0).random((5, 3)).astype(np.float32)
    before = m(x).numpy().copy()
    assert m.to("cpu") is m and m.cpu() is m
    assert all(w.device == "cpu" for w in m.weights)
    np.testing.assert_array_equal(m(x).numpy(), before)


@needs_no_gpu
def test_model_to_cuda_without_one_names_what_is_missing():
    from fastnn import layers

    m = fn.Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="device 'cuda' is not available"):
        m.to("cuda")
    assert m._device == "cpu"  # nothing moved


@needs_no_gpu
@pytest.mark.parametrize("call", ["fit", "evaluate", "predict", "train_on_batch",
                                  "test_on_batch", "predict_on_batch"])
def test_fit_on_a_device_without_one_names_what_is_missing(call):
    # What a model.to("cuda") leaves on the model, in a process without a GPU: the first
    # upload names what is missing, and the process goes on.
    from fastnn import layers

    m = fn.Sequential([layers.Dense(2)])
    m.compile(optimizer="sgd", loss="mse")
    m._device = "cuda:0"
    x, y = np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32)
    args = {"fit": (x, y), "evaluate": (x, y), "train_on_batch": (x, y),
            "test_on_batch": (x, y)}.get(call, (x,))
    with pytest.raises(ValueError, match="device 'cuda:0' is not available: "):
        getattr(m, call)(*args)
    m._device = "cpu"
    assert np.shape(m.predict(x, verbose=0)) == (4, 2)


def test_float32_matmul_precision_is_pytorchs_setting():
    assert fn.get_float32_matmul_precision() == "highest"
    try:
        for p in ("high", "medium", "highest"):
            fn.set_float32_matmul_precision(p)
            assert fn.get_float32_matmul_precision() == p
        with pytest.raises(ValueError, match="expected 'highest', 'high' or 'medium'"):
            fn.set_float32_matmul_precision("low")
        # The CPU computes in float32 whatever the setting.
        a = np.random.default_rng(0).standard_normal((33, 17)).astype(np.float32)
        fn.set_float32_matmul_precision("high")
        high = (fn.tensor(a) @ fn.tensor(a.T)).numpy()
        fn.set_float32_matmul_precision("highest")
        np.testing.assert_array_equal(high, (fn.tensor(a) @ fn.tensor(a.T)).numpy())
    finally:
        fn.set_float32_matmul_precision("highest")
