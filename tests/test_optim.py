"""Optimizers against a float64 numpy reimplementation of torch.optim's algorithms and
against torch.optim itself: same initial parameters, same hand-set gradients each step."""

import math

import numpy as np
import pytest

import fastnn as fn
from fastnn import optim


# --- numpy reference: torch.optim's update rules, one parameter at a time -------------------

class RefSGD:
    def __init__(self, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        self.h = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                      nesterov=nesterov)
        self.buf = {}

    def update(self, i, p, g):
        h = self.h
        d = g + h["weight_decay"] * p
        if h["momentum"] != 0:
            if i not in self.buf:
                self.buf[i] = d.copy()
            else:
                self.buf[i] = h["momentum"] * self.buf[i] + (1 - h["dampening"]) * d
            d = d + h["momentum"] * self.buf[i] if h["nesterov"] else self.buf[i]
        return p - h["lr"] * d


class RefAdam:
    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 decoupled=False):
        self.h = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        self.decoupled = decoupled
        self.state = {}

    def update(self, i, p, g):
        h = self.h
        b1, b2 = h["betas"]
        s = self.state.setdefault(i, dict(step=0, m=np.zeros_like(p), v=np.zeros_like(p),
                                          vmax=np.zeros_like(p)))
        s["step"] += 1
        if self.decoupled:
            p = p * (1 - h["lr"] * h["weight_decay"])
        else:
            g = g + h["weight_decay"] * p
        s["m"] = b1 * s["m"] + (1 - b1) * g
        s["v"] = b2 * s["v"] + (1 - b2) * g * g
        bc1, bc2 = 1 - b1 ** s["step"], 1 - b2 ** s["step"]
        v = s["v"]
        if h["amsgrad"]:
            s["vmax"] = np.maximum(s["vmax"], s["v"])
            v = s["vmax"]
        denom = np.sqrt(v) / math.sqrt(bc2) + h["eps"]
        return p - (h["lr"] / bc1) * s["m"] / denom


class RefRMSprop:
    def __init__(self, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        self.h = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                      centered=centered)
        self.state = {}

    def update(self, i, p, g):
        h = self.h
        s = self.state.setdefault(i, dict(sq=np.zeros_like(p), buf=np.zeros_like(p),
                                          gavg=np.zeros_like(p)))
        g = g + h["weight_decay"] * p
        s["sq"] = h["alpha"] * s["sq"] + (1 - h["alpha"]) * g * g
        if h["centered"]:
            s["gavg"] = h["alpha"] * s["gavg"] + (1 - h["alpha"]) * g
            avg = np.sqrt(s["sq"] - s["gavg"] ** 2) + h["eps"]
        else:
            avg = np.sqrt(s["sq"]) + h["eps"]
        if h["momentum"] > 0:
            s["buf"] = h["momentum"] * s["buf"] + g / avg
            return p - h["lr"] * s["buf"]
        return p - h["lr"] * g / avg


class RefAdagrad:
    def __init__(self, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10):
        self.h = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps)
        self.init = initial_accumulator_value
        self.state = {}

    def update(self, i, p, g):
        h = self.h
        s = self.state.setdefault(i, dict(step=0, sum=np.full_like(p, self.init)))
        s["step"] += 1
        g = g + h["weight_decay"] * p
        clr = h["lr"] / (1 + (s["step"] - 1) * h["lr_decay"])
        s["sum"] = s["sum"] + g * g
        return p - clr * g / (np.sqrt(s["sum"]) + h["eps"])


# name, fastnn class, reference class, torch class name, kwargs (torch's names)
_CASES = [
    ("sgd", optim.SGD, RefSGD, "SGD", dict(lr=0.1)),
    ("sgd-momentum", optim.SGD, RefSGD, "SGD", dict(lr=0.05, momentum=0.9)),
    ("sgd-dampening", optim.SGD, RefSGD, "SGD", dict(lr=0.05, momentum=0.8, dampening=0.3)),
    ("sgd-nesterov", optim.SGD, RefSGD, "SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("sgd-wd", optim.SGD, RefSGD, "SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1)),
    ("adam", optim.Adam, RefAdam, "Adam", dict(lr=0.01)),
    ("adam-betas-eps", optim.Adam, RefAdam, "Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-3)),
    ("adam-wd", optim.Adam, RefAdam, "Adam", dict(lr=0.01, weight_decay=0.1)),
    ("adam-amsgrad", optim.Adam, RefAdam, "Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05)),
    ("adamw", optim.AdamW, RefAdam, "AdamW", dict(lr=0.01)),  # default weight_decay 0.01
    ("adamw-wd-amsgrad", optim.AdamW, RefAdam, "AdamW", dict(lr=0.01, weight_decay=0.3,
                                                             amsgrad=True)),
    ("rmsprop", optim.RMSprop, RefRMSprop, "RMSprop", dict(lr=0.01)),
    ("rmsprop-momentum", optim.RMSprop, RefRMSprop, "RMSprop", dict(lr=0.01, momentum=0.9)),
    ("rmsprop-centered", optim.RMSprop, RefRMSprop, "RMSprop", dict(lr=0.01, centered=True,
                                                                    alpha=0.9)),
    ("rmsprop-all", optim.RMSprop, RefRMSprop, "RMSprop", dict(lr=0.01, centered=True,
                                                               momentum=0.5, weight_decay=0.1)),
    ("adagrad", optim.Adagrad, RefAdagrad, "Adagrad", dict(lr=0.1)),
    ("adagrad-decay", optim.Adagrad, RefAdagrad, "Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("adagrad-init-wd", optim.Adagrad, RefAdagrad, "Adagrad",
     dict(lr=0.1, initial_accumulator_value=0.5, weight_decay=0.2)),
]
_IDS = [c[0] for c in _CASES]
_SHAPES = [(3, 7), (7,), (1, 1)]


def _ref(ref_cls, fn_cls, kwargs):
    kw = dict(kwargs)
    if fn_cls is optim.AdamW:
        kw.setdefault("weight_decay", 0.01)
        return ref_cls(decoupled=True, **kw)
    return ref_cls(**kw)


def _params(rng, dtype="float64"):
    values = [rng.standard_normal(s) for s in _SHAPES]
    return values, [fn.Parameter(v, dtype=dtype) for v in values]


def _grads(rng, step):
    # gradients that vary in size and sign, occasionally exactly 0
    return [rng.standard_normal(s) * (1 + step) * (rng.uniform(size=s) > 0.1) for s in _SHAPES]


def _schedule(step):
    """Which parameters get a gradient at this step (the others keep grad None)."""
    return [True, step % 3 != 1, step >= 2]


@pytest.mark.parametrize("name,fn_cls,ref_cls,torch_name,kwargs", _CASES, ids=_IDS)
def test_optimizer_matches_reference(name, fn_cls, ref_cls, torch_name, kwargs):
    rng = np.random.default_rng(70)
    values, params = _params(rng)
    opt = fn_cls(params, **kwargs)
    ref = _ref(ref_cls, fn_cls, kwargs)
    expected = [v.copy() for v in values]
    for step in range(6):
        grads = _grads(rng, step)
        opt.zero_grad()
        for i, (p, g, has) in enumerate(zip(params, grads, _schedule(step))):
            if has:
                p.grad = fn.tensor(g, dtype="float64")
                expected[i] = ref.update(i, expected[i], g)
            else:
                assert p.grad is None
        opt.step()
        for p, e in zip(params, expected):
            np.testing.assert_allclose(np.asarray(p), e, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name,fn_cls,ref_cls,torch_name,kwargs", _CASES, ids=_IDS)
def test_optimizer_float32_matches_reference(name, fn_cls, ref_cls, torch_name, kwargs):
    rng = np.random.default_rng(71)
    values, _ = _params(rng)
    values = [v.astype(np.float32).astype(np.float64) for v in values]
    params = [fn.Parameter(v) for v in values]
    opt = fn_cls(params, **kwargs)
    ref = _ref(ref_cls, fn_cls, kwargs)
    for step in range(4):
        grads = [g.astype(np.float32) for g in _grads(rng, step)]
        for i, (p, g) in enumerate(zip(params, grads)):
            p.grad = fn.tensor(g)
            values[i] = ref.update(i, values[i], g.astype(np.float64))
        opt.step()
    for p, e in zip(params, values):
        assert p.dtype == "float32"
        np.testing.assert_allclose(np.asarray(p), e, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,fn_cls,ref_cls,torch_name,kwargs", _CASES, ids=_IDS)
def test_optimizer_matches_torch(name, fn_cls, ref_cls, torch_name, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(72)
    values, params = _params(rng)
    tparams = [torch.tensor(v, requires_grad=True) for v in values]
    opt = fn_cls(params, **kwargs)
    topt = getattr(torch.optim, torch_name)(tparams, **kwargs)
    for step in range(6):
        grads = _grads(rng, step)
        opt.zero_grad()
        topt.zero_grad()
        for p, tp, g, has in zip(params, tparams, grads, _schedule(step)):
            if has:
                p.grad = fn.tensor(g, dtype="float64")
                tp.grad = torch.tensor(g)
        if step == 3:  # change the learning rate through both APIs
            opt.lr = kwargs["lr"] * 0.5
            topt.param_groups[0]["lr"] = kwargs["lr"] * 0.5
        if step == 4:
            opt.param_groups[0]["lr"] = kwargs["lr"] * 2
            topt.param_groups[0]["lr"] = kwargs["lr"] * 2
        opt.step()
        topt.step()
        for p, tp in zip(params, tparams):
            np.testing.assert_allclose(np.asarray(p), tp.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("via", ["attribute", "param_groups"])
def test_lr_change_between_steps(via):
    rng = np.random.default_rng(73)
    values, params = _params(rng)
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    ref = RefSGD(lr=0.1, momentum=0.9)
    for step, lr in enumerate([0.1, 0.01, 0.5, 0.0]):
        if via == "attribute":
            opt.lr = lr
        else:
            opt.param_groups[0]["lr"] = lr
        assert opt.lr == lr and opt.param_groups[0]["lr"] == lr
        ref.h["lr"] = lr
        for i, (p, g) in enumerate(zip(params, _grads(rng, step))):
            p.grad = fn.tensor(g, dtype="float64")
            values[i] = ref.update(i, values[i], g)
        opt.step()
    for p, e in zip(params, values):
        np.testing.assert_allclose(np.asarray(p), e, rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match="lr"):
        opt.lr = -1.0
    assert opt.lr == 0.0


def test_params_without_grad_are_left_alone():
    rng = np.random.default_rng(74)
    values, params = _params(rng)
    for cls in (optim.SGD, optim.Adam, optim.RMSprop, optim.Adagrad):
        opt = cls(params, lr=0.1, weight_decay=0.1)  # decay alone would move them
        for p in params:
            p.grad = None
        before = [np.array(p, copy=True) for p in params]
        opt.step()
        for p, b in zip(params, before):
            np.testing.assert_array_equal(np.asarray(p), b)


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    rng = np.random.default_rng(75)
    _, params = _params(rng)
    opt = optim.Adam(params)
    grads = [fn.tensor(g, dtype="float64") for g in _grads(rng, 0)]
    for p, g in zip(params, grads):
        p.grad = g
    params[2].grad = None
    opt.zero_grad(set_to_none=set_to_none)
    assert params[2].grad is None
    for p, g in zip(params[:2], grads[:2]):
        if set_to_none:
            assert p.grad is None
        else:
            assert p.grad is not None and p.grad.shape == p.shape
            np.testing.assert_array_equal(np.asarray(p.grad), 0.0)
            np.testing.assert_array_equal(np.asarray(g), 0.0)  # zeroed in place
    assert optim.SGD(params).zero_grad() is None  # default set_to_none=True
    assert all(p.grad is None for p in params)


def test_optimizer_with_backward_loop_and_state_dict():
    """A real loop: grads from backward, accumulated state visible through state_dict."""
    rng = np.random.default_rng(76)
    w0 = rng.standard_normal((3, 1))
    x, y = rng.standard_normal((33, 3)), rng.standard_normal((33, 1))
    w = fn.Parameter(w0, dtype="float64")
    opt = optim.Adam([w], lr=0.05)
    ref = RefAdam(lr=0.05)
    expected = w0.copy()
    for _ in range(5):
        opt.zero_grad()
        loss = fn.losses.MSELoss()(fn.matmul(fn.tensor(x, dtype="float64"), w), y)
        loss.backward()
        expected = ref.update(0, expected, 2 * x.T @ (x @ expected - y) / 33)
        opt.step()
    np.testing.assert_allclose(np.asarray(w), expected, rtol=1e-12)
    state = opt.state_dict()
    assert state["state"][0]["step"] == 5
    np.testing.assert_allclose(state["state"][0]["exp_avg"], ref.state[0]["m"], rtol=1e-12)
    np.testing.assert_allclose(state["state"][0]["exp_avg_sq"], ref.state[0]["v"], rtol=1e-12)
    assert state["param_groups"][0]["lr"] == 0.05


@pytest.mark.parametrize("make", [
    lambda ps: fn.optim.SGD(ps, lr=0.1),
    lambda ps: fn.optim.Adam(ps, lr=0.1),
    lambda ps: fn.optim.RMSprop(ps, lr=0.1),
    lambda ps: fn.optim.Adagrad(ps, lr=0.1),
])
def test_a_learning_rate_set_between_steps_reaches_the_update(make):
    """The config lives in a tensor the update kernel reads: a new lr must change the step
    exactly as a fresh optimizer with that lr would (its first step)."""
    rng = np.random.default_rng(7)
    w0 = rng.normal(size=(3, 4))
    g = rng.normal(size=(3, 4))
    results = []
    for lr_at_step in (0.1, 0.025):
        w = fn.tensor(w0, requires_grad=True)
        opt = make([w])
        opt.lr = lr_at_step
        w.grad = fn.tensor(g)
        opt.step()
        results.append(np.asarray(w) - w0.astype(np.float32))
    np.testing.assert_allclose(results[1], results[0] * 0.25, rtol=1e-5, atol=1e-8)
    assert np.abs(results[1]).max() > 0
