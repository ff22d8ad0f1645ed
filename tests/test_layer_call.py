"""Calling layers and models: the cached signature check, inputs as snapshots (a numpy
input changed after the forward pass does not change the gradients), the functional
API's error, fn.cuda.device_count and the package's import graph."""

import ast
import inspect
import pathlib

import numpy as np
import pytest

import fastnn as fn
from fastnn import _C, layers
from fastnn.layers import base

RNG = np.random.default_rng(77)


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


# --- the signature check runs once per method ------------------------------------------------

def test_signature_is_inspected_once_per_method(monkeypatch):
    calls = []
    real = inspect.signature

    def counting(obj, *args, **kwargs):
        calls.append(getattr(obj, "__func__", obj))
        return real(obj, *args, **kwargs)

    monkeypatch.setattr(base.inspect, "signature", counting)

    class Scale(fn.layers.Layer):
        def call(self, x, training=False):
            return x * (2.0 if training else 3.0)

    a, b = Scale(), Scale()
    x = randn(3, 5)
    for layer in (a, b, a, b):
        np.testing.assert_array_equal(np.asarray(layer(x, training=True)), x * 2)
        np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x * 3)
    assert calls.count(Scale.call) == 1


def test_training_follows_the_method_even_when_it_is_replaced():
    class Probe(fn.layers.Layer):
        def call(self, x, training=False):
            self.seen = training
            return x

    class NoFlag(fn.layers.Layer):
        def call(self, x):
            self.seen = "no flag"
            return x

    class Kwargs(fn.layers.Layer):
        def call(self, x, **kwargs):
            self.seen = kwargs
            return x

    x = randn(2, 3)
    probe, no_flag, kwargs = Probe(), NoFlag(), Kwargs()
    probe(x, training=True)
    assert probe.seen is True
    no_flag(x, training=True)
    assert no_flag.seen == "no flag"
    kwargs(x, training=True)
    assert kwargs.seen == {"training": True}

    # A method replaced on the class is a new function: asked anew.
    def without(self, x):
        self.seen = "replaced"
        return x

    Probe.call = without
    probe(x, training=True)
    assert probe.seen == "replaced"

    # A function set on one instance is asked each time and not kept.
    size = len(base._takes_argument_cache)
    for flag in (True, False):
        no_flag.call = lambda x, training=False: setattr(no_flag, "seen", training) or x
        no_flag(x, training=flag)
        assert no_flag.seen is flag
    assert len(base._takes_argument_cache) == size


def test_a_model_passes_training_only_when_call_takes_it():
    class WithFlag(fn.Model):
        def call(self, x, training=False):
            return x * (5.0 if training else 7.0)

    class Torch(fn.Model):
        def forward(self, x):
            return x * 11.0

    x = randn(4, 3)
    for _ in range(2):
        np.testing.assert_array_equal(np.asarray(WithFlag()(x, training=True)), x * 5)
        np.testing.assert_array_equal(np.asarray(WithFlag()(x)), x * 7)
        np.testing.assert_array_equal(np.asarray(Torch()(x, training=False)), x * 11)


# --- inputs are snapshots ----------------------------------------------------------------------

def _dense_grads(x, gy):
    """Kernel and bias gradients of sum(gy * (x @ k + b)) for a linear Dense."""
    return x.astype(np.float64).T @ gy, gy.sum(axis=0)


def test_a_numpy_input_changed_after_the_call_does_not_change_the_gradient():
    x = randn(7, 9)
    seen = x.copy()
    dense = layers.Dense(5)
    out = dense(x)
    x[:] = 0.0  # e.g. a batch buffer refilled before backward
    out.sum().backward()
    gk, gb = _dense_grads(seen, np.ones((7, 5)))
    np.testing.assert_allclose(np.asarray(dense.kernel.grad), gk, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(dense.bias.grad), gb, rtol=1e-6)


@pytest.mark.parametrize("kind", ["sequential", "subclassed"])
def test_models_take_snapshots_too(kind):
    first = layers.Dense(6)
    if kind == "sequential":
        model = fn.Sequential([first, layers.Dense(1)])
    else:
        class Net(fn.Model):
            def __init__(self):
                super().__init__()
                self.first, self.last = first, layers.Dense(1)

            def forward(self, x):
                return self.last(self.first(x))

        model = Net()
    x = randn(5, 3)
    seen = x.copy()
    out = model(x)
    x[:] = RNG.standard_normal(x.shape)
    out.sum().backward()
    # d(sum)/d(first's pre-activation) = last.kernel^T for every row.
    gy = np.tile(np.asarray(model.layers[-1].kernel, dtype=np.float64).T, (5, 1))
    np.testing.assert_allclose(np.asarray(first.kernel.grad), _dense_grads(seen, gy)[0],
                               rtol=1e-5, atol=1e-5)


def test_the_teaching_backward_uses_the_values_seen_at_call_time():
    x = randn(4, 3)
    seen = x.copy()
    dense = layers.Dense(2)
    dense(x)
    x[:] = 5.0
    gy = randn(4, 2)
    gx = dense.backward(gy)
    np.testing.assert_allclose(np.asarray(dense.kernel.grad), _dense_grads(seen, gy)[0],
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(gx), gy @ np.asarray(dense.kernel).T, rtol=1e-5,
                               atol=1e-6)


def test_inputs_are_borrowed_under_no_grad_and_copied_otherwise():
    dense = layers.Dense(3, input_dim=4)
    x = randn(2, 4)
    with fn.no_grad():
        assert np.shares_memory(np.asarray(dense._convert_input(x)), x)
    copied = dense._convert_input(x)
    assert not np.shares_memory(np.asarray(copied), x)
    np.testing.assert_array_equal(np.asarray(copied), x)
    converted = dense._convert_input(x.astype(np.float64))  # one copy that also converts
    assert converted.dtype == "float32"
    np.testing.assert_array_equal(np.asarray(converted), x)


@pytest.mark.parametrize("op", ["matmul", "mul", "div", "add", "dense"])
def test_functional_ops_keep_their_numpy_operands(op):
    w = fn.tensor(randn(6, 6) + 3.0, requires_grad=True)
    a = randn(6, 6) + 2.0
    seen = a.astype(np.float64)
    if op == "matmul":
        y, expected = fn.matmul(a, w), seen.T @ np.ones((6, 6))
    elif op == "dense":
        y, expected = fn.dense(a, w), seen.T @ np.ones((6, 6))
    elif op == "mul":
        y, expected = fn.mul(w, a), seen
    elif op == "div":
        y, expected = fn.div(w, a), 1.0 / seen
    else:
        y, expected = fn.add(a, w), np.ones((6, 6))
    a[:] = -1.0
    y.sum().backward()
    np.testing.assert_allclose(np.asarray(w.grad), expected, rtol=1e-5)


def test_fit_evaluate_and_predict_copy_no_input(monkeypatch):
    """fit hands the model tensors it owns: the snapshot copy is for arrays from users."""
    copies = []
    real = base.snapshot
    monkeypatch.setattr(base, "snapshot", lambda a, d: copies.append(a.shape) or real(a, d))
    assert real is fn.snapshot.snapshot
    x, y = randn(37, 5), RNG.integers(0, 3, 37)
    for capture in (True, False):
        model = fn.Sequential([layers.Dense(4, activation="relu"), layers.Dense(3)],
                              input_shape=(5,))
        model.compile(optimizer="adam", loss=fn.losses.SparseCategoricalCrossentropy(
            from_logits=True), metrics=["accuracy"], capture=capture)
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        model.fit(x, y, epochs=1, batch_size=8, validation_split=0.2, verbose=0)
        model.evaluate(x, y, batch_size=16)
        model.predict(x, batch_size=16)
        model.train_on_batch(x[:8], y[:8])
        assert copies == []
        model(x[:3])  # a user's array in a grad-recording call is copied
        assert copies == [(3, 5)]
        copies.clear()


# --- Model(inputs, outputs) ------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: fn.Model("inputs", "outputs"),
    lambda: fn.Model(inputs="x", outputs="y"),
    lambda: fn.Model("x", outputs="y", name="m"),
])
def test_the_functional_api_refuses_what_is_not_a_keras_tensor(make):
    # Model(inputs, outputs) is the functional API (tests/test_functional_api.py); strings
    # are no keras.Input tensors.
    with pytest.raises(TypeError, match=r"expected inputs to be a KerasTensor \(from "
                                        r"keras\.Input.*got a str"):
        make()


def test_a_subclass_passing_inputs_and_outputs_to_model_init_is_refused():
    class Net(fn.Model):
        def __init__(self):
            x = fn.Input(shape=(3,))
            super().__init__(x, layers.Dense(2)(x))

    with pytest.raises(NotImplementedError, match=r"Net\.__init__: a subclass of Model cannot "
                                                  r"pass inputs and outputs"):
        Net()


def test_subclasses_and_keyword_errors_are_unchanged():
    class Net(fn.Model):
        def __init__(self, units):
            super().__init__(name="net")
            self.d = layers.Dense(units)

        def call(self, x):
            return self.d(x)

    assert Net(3)(randn(2, 4)).shape == (2, 3)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        fn.Model(inputz=1)


# --- fn.cuda ----------------------------------------------------------------------------------

def test_device_count_agrees_with_the_build():
    count = fn.cuda.device_count()
    assert isinstance(count, int)
    assert (count > 0) == fn.cuda.is_available() == _C.has_cuda_backend()
    if not _C.build_info()["cuda"]:
        assert count == 0


def test_device_count_with_a_backend(monkeypatch):
    monkeypatch.setattr(_C, "has_cuda_backend", lambda: True)
    monkeypatch.setattr(_C, "cuda_device_count", lambda: 4)
    assert fn.cuda.is_available() and fn.cuda.device_count() == 4
    assert fn.cuda.unavailable_reason() == ""
    monkeypatch.setattr(_C, "has_cuda_backend", lambda: False)
    monkeypatch.setattr(fn.cuda, "_LIBRARY", "/nonexistent/libfastnn_cuda.so")
    assert fn.cuda.device_count() == 0 and not fn.cuda.is_available()
    assert "built without CUDA" in fn.cuda.unavailable_reason()


# --- the import graph ---------------------------------------------------------------------------

def _imports(package_dir):
    """{module: modules it imports from the package}, function-level imports included."""
    root = package_dir.parent
    modules = {".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): p
               for p in package_dir.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(parts + ([node.module] if node.module else []))
                deps |= {f"{target}.{a.name}" for a in node.names} | {target}
        # The package itself (``from . import _C``) runs every module: not an edge.
        graph[name] = {d for d in deps if d in modules and d not in (name, package_dir.name)}
    return graph


def test_no_import_cycles_among_fastnn_modules():
    graph = _imports(pathlib.Path(fn.__file__).parent)
    assert "fastnn.models" in graph and "fastnn.lazy_parameters" in graph["fastnn.optim"]

    def reaches(start, goal, seen):
        for nxt in graph[start]:
            if nxt == goal or (nxt not in seen and not seen.add(nxt) and reaches(nxt, goal, seen)):
                return True
        return False

    cycles = sorted(m for m in graph if reaches(m, m, set()))
    assert cycles == [], f"modules on an import cycle: {cycles}"


def test_lazy_parameters_keeps_its_old_home():
    from fastnn.lazy_parameters import LazyParameters
    from fastnn.models import LazyParameters as Old

    assert Old is LazyParameters
    model = fn.Sequential([layers.Dense(2)])
    assert isinstance(model.parameters(), LazyParameters)
    opt = fn.optim.SGD(model.parameters(), lr=0.1)
    model(randn(3, 4))
    opt.step()  # the optimizer found the weights built after it
    assert len(opt.param_groups[0]["params"]) == 2


def test_layers_cast_float_tensors_to_their_dtype_as_keras_does():
    x = np.random.default_rng(0).standard_normal((3, 4))
    layer = fn.layers.Dense(2, input_dim=4)  # float32
    x64 = fn.tensor(x, dtype="float64", requires_grad=True)
    out = layer(x64)
    assert out.dtype == "float32"
    np.testing.assert_allclose(out.numpy(), layer(x.astype(np.float32)).numpy(), rtol=1e-6)
    fn.sum(out).backward()  # the cast is differentiable: the float64 input gets its gradient
    assert x64.grad.dtype == "float64"
    np.testing.assert_allclose(x64.grad.numpy(), np.tile(layer.kernel.numpy().sum(axis=1), (3, 1)),
                               rtol=1e-6)
