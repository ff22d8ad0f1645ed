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


# --- Model(inputs, outputs) ------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: fn.Model("inputs", "outputs"),
    lambda: fn.Model(inputs="x", outputs="y"),
    lambda: fn.Model("x", outputs="y", name="m"),
])
def test_the_functional_api_says_it_is_not_supported(make):
    with pytest.raises(NotImplementedError, match=r"Model\.__init__: the functional API, "
                                                  r"Model\(inputs, outputs\), is not supported "
                                                  r"yet.*Sequential.*subclass"):
        make()


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
    if hasattr(_C, "cuda_device_count"):
        monkeypatch.delattr(_C, "cuda_device_count")
    assert fn.cuda.device_count() == 1  # registered: at least the one it runs on
    monkeypatch.setattr(_C, "cuda_device_count", lambda: 4, raising=False)
    assert fn.cuda.device_count() == 4
    monkeypatch.setattr(_C, "has_cuda_backend", lambda: False)
    assert fn.cuda.device_count() == 0 and not fn.cuda.is_available()
