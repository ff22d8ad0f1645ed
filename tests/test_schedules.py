"""Learning-rate schedules: Keras's (fastnn.optimizers.schedules, the optimizer calls them
with its step count) and PyTorch's (fastnn.optim.lr_scheduler, stepped by the user), step
by step against their documented formulas, against torch.optim.lr_scheduler where torch is
installed, and inside fit: a captured step trains with exactly the scheduled rate."""

import math
from bisect import bisect_left, bisect_right

import numpy as np
import pytest

import fastnn as fn
from fastnn import callbacks, layers, optim, optimizers
from fastnn.capture import StepCapture
from fastnn.optim import lr_scheduler
from fastnn.optimizers import schedules

STEPS = list(range(0, 61)) + [99, 100, 101, 1000]


# --- Keras schedules against the formulas in keras.optimizers.schedules' docs ----------------

def cosine(lr, step, decay_steps, alpha):
    step = min(step, decay_steps)
    return lr * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * step / decay_steps)) + alpha)


KERAS_CASES = {
    "exponential": (schedules.ExponentialDecay(0.1, decay_steps=7, decay_rate=0.6),
                    lambda t: 0.1 * 0.6 ** (t / 7)),
    "exponential_staircase": (
        schedules.ExponentialDecay(0.1, decay_steps=7, decay_rate=0.6, staircase=True),
        lambda t: 0.1 * 0.6 ** (t // 7)),
    "piecewise": (schedules.PiecewiseConstantDecay([5, 12, 30], [1.0, 0.5, 0.1, 0.02]),
                  # values[i] for boundaries[i-1] < t <= boundaries[i]
                  lambda t: [1.0, 0.5, 0.1, 0.02][bisect_left([5, 12, 30], t)]),
    "inverse_time": (schedules.InverseTimeDecay(0.2, decay_steps=3, decay_rate=0.5),
                     lambda t: 0.2 / (1 + 0.5 * t / 3)),
    "inverse_time_staircase": (
        schedules.InverseTimeDecay(0.2, decay_steps=3, decay_rate=0.5, staircase=True),
        lambda t: 0.2 / (1 + 0.5 * (t // 3))),
    "polynomial": (schedules.PolynomialDecay(0.1, decay_steps=20, end_learning_rate=0.01,
                                             power=2.0),
                   lambda t: (0.1 - 0.01) * (1 - min(t, 20) / 20) ** 2 + 0.01),
    "polynomial_cycle": (
        schedules.PolynomialDecay(0.1, decay_steps=20, end_learning_rate=0.01, power=0.5,
                                  cycle=True),
        # decay_steps * ceil(t / decay_steps), decay_steps itself at t = 0
        lambda t: (0.1 - 0.01) * (1 - t / (20 * max(1, math.ceil(t / 20)))) ** 0.5 + 0.01),
    "cosine": (schedules.CosineDecay(0.1, decay_steps=25, alpha=0.1),
               lambda t: cosine(0.1, t, 25, 0.1)),
    "cosine_warmup": (
        schedules.CosineDecay(0.0, decay_steps=25, alpha=0.05, warmup_target=0.2,
                              warmup_steps=10),
        # linear from initial to warmup_target over warmup_steps, then the cosine from
        # warmup_target over decay_steps counted from the warm-up's end
        lambda t: 0.2 * t / 10 if t < 10 else cosine(0.2, t - 10, 25, 0.05)),
    "cosine_warmup_from_nonzero": (
        schedules.CosineDecay(0.01, decay_steps=8, warmup_target=0.1, warmup_steps=4),
        lambda t: 0.01 + (0.1 - 0.01) * t / 4 if t < 4 else cosine(0.1, t - 4, 8, 0.0)),
    "cosine_no_warmup_steps": (
        schedules.CosineDecay(0.05, decay_steps=8, warmup_target=0.1),
        lambda t: cosine(0.1, t, 8, 0.0)),
}


def restarts(t, lr, first, t_mul, m_mul, alpha):
    """SGDR by walking the periods: period i lasts first * t_mul**i steps."""
    start, length, i = 0.0, float(first), 0
    while t >= start + length:
        start, length, i = start + length, length * t_mul, i + 1
    fraction = (t - start) / length
    return lr * ((1 - alpha) * 0.5 * m_mul ** i * (1 + math.cos(math.pi * fraction)) + alpha)


KERAS_CASES["cosine_restarts"] = (
    schedules.CosineDecayRestarts(0.1, first_decay_steps=6, t_mul=2.0, m_mul=0.5, alpha=0.1),
    lambda t: restarts(t, 0.1, 6, 2.0, 0.5, 0.1))
KERAS_CASES["cosine_restarts_fixed_period"] = (
    schedules.CosineDecayRestarts(0.1, first_decay_steps=6, t_mul=1.0, m_mul=0.8),
    lambda t: restarts(t, 0.1, 6, 1.0, 0.8, 0.0))


@pytest.mark.parametrize("name", sorted(KERAS_CASES))
def test_keras_schedule_matches_its_formula(name):
    schedule, formula = KERAS_CASES[name]
    for t in STEPS:
        got = schedule(t)
        assert isinstance(got, float)
        assert got == pytest.approx(formula(t), rel=1e-12, abs=1e-15), (name, t)


def test_piecewise_constant_boundaries_belong_to_the_lower_interval():
    s = schedules.PiecewiseConstantDecay([10, 20], [3.0, 2.0, 1.0])
    assert [s(t) for t in (0, 10, 11, 20, 21)] == [3.0, 3.0, 2.0, 2.0, 1.0]


def test_keras_schedule_argument_checks():
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.CosineDecay(0.1, -3)
    with pytest.raises(ValueError, match="1 less than the length"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0, 0.5])
    with pytest.raises(ValueError, match="increasing"):
        schedules.PiecewiseConstantDecay([5, 2], [1.0, 0.5, 0.1])
    with pytest.raises(NotImplementedError):
        schedules.LearningRateSchedule()(0)


def test_schedule_serialization_and_optimizer_config():
    s = schedules.CosineDecay(0.0, 100, alpha=0.1, warmup_target=0.01, warmup_steps=10)
    config = schedules.serialize(s)
    assert config["class_name"] == "CosineDecay" and config["config"]["warmup_steps"] == 10
    again = schedules.deserialize(config)
    assert type(again) is schedules.CosineDecay and again.get_config() == s.get_config()
    opt = optimizers.Adam(learning_rate=s)
    copy = optimizers.Adam.from_config(opt.get_config())
    assert isinstance(copy._learning_rate, schedules.CosineDecay)
    assert [copy._learning_rate(t) for t in STEPS] == [s(t) for t in STEPS]
    with pytest.raises(ValueError, match="unknown"):
        schedules.deserialize({"class_name": "Nope", "config": {}})


def test_optimizer_learning_rate_follows_the_schedule_by_iterations():
    s = schedules.ExponentialDecay(0.1, 2, 0.5, staircase=True)
    opt = optimizers.SGD(learning_rate=s)
    seen = []
    for _ in range(5):
        seen.append(opt.learning_rate)
        opt.iterations += 1
    assert seen == [0.1, 0.1, 0.05, 0.05, 0.025]


# --- Keras schedules in fit ------------------------------------------------------------------

def regression(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5]) - 0.3).astype(np.float32)[:, None]
    return x, y


def fit_linear(learning_rate, capture, epochs=3, batch_size=8, n=40):
    fn.manual_seed(0)
    m = fn.Sequential([layers.Dense(1, use_bias=False)], input_shape=(3,))
    m.compile(optimizer=optimizers.SGD(learning_rate), loss="mse", capture=capture)
    w0 = m.get_weights()[0].astype(np.float64)
    x, y = regression(n)
    h = m.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    return m, h.history["loss"], w0


def sgd_reference(w, rate, epochs=3, batch_size=8, n=40):
    """Plain SGD on the mean squared error in float64: step t uses rate(t)."""
    x, y = regression(n)
    x, y = x.astype(np.float64), y.astype(np.float64)
    t = 0
    for _ in range(epochs):
        for lo in range(0, n, batch_size):
            xb, yb = x[lo:lo + batch_size], y[lo:lo + batch_size]
            w = w - rate(t) * 2.0 / len(xb) * xb.T @ (xb @ w - yb)
            t += 1
    return w


FIT_SCHEDULES = {
    "piecewise": schedules.PiecewiseConstantDecay([3, 9], [0.1, 0.03, 0.01]),
    "exponential": schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5),
    "exponential_staircase": schedules.ExponentialDecay(0.1, 4, 0.5, staircase=True),
    "cosine_warmup": schedules.CosineDecay(0.0, decay_steps=10, alpha=0.1, warmup_target=0.1,
                                           warmup_steps=4),
    "inverse_time": schedules.InverseTimeDecay(0.1, decay_steps=2, decay_rate=1.0),
    "polynomial_cycle": schedules.PolynomialDecay(0.1, 6, 0.01, power=2.0, cycle=True),
    "callable": lambda step: 0.1 / (1 + step),
}


@pytest.mark.parametrize("name", sorted(FIT_SCHEDULES))
def test_a_schedule_sets_each_steps_rate_in_a_captured_fit(name):
    """15 steps (5 batches of 8 per epoch): the weights are those of SGD with rate(t) at
    step t, and the captured fit equals compile(capture=False) exactly."""
    schedule = FIT_SCHEDULES[name]
    captured, loss_c, w0 = fit_linear(schedule, capture=True)
    eager, loss_e, _ = fit_linear(schedule, capture=False)
    assert len(captured._captured) >= 1 and len(eager._captured) == 0
    assert captured.optimizer.iterations == eager.optimizer.iterations == 15
    assert loss_c == loss_e
    assert captured.get_weights()[0].tobytes() == eager.get_weights()[0].tobytes()
    expected = sgd_reference(w0, lambda t: float(schedule(t)))
    np.testing.assert_allclose(captured.get_weights()[0], expected, rtol=2e-5, atol=1e-6)
    # ...and differs from training at the schedule's first rate throughout.
    constant = sgd_reference(w0, lambda t: float(schedule(0)))
    assert np.abs(expected - constant).max() > 1e-3


def test_schedule_steps_at_one_rate_replay_in_one_call(monkeypatch):
    """70 samples in batches of 16: 4 full batches and a last one of 6 per epoch. With the
    rate 0.1 up to step 6 and 0.01 after, the full batches replay in one C++ call per run
    of steps at one rate: epoch 0 steps 1-3 (step 0 is captured), epoch 1 steps 5-6 and
    7-8, epoch 2 steps 10-13; a smooth schedule runs step by step."""
    calls = []
    original = StepCapture.replay_batches
    monkeypatch.setattr(StepCapture, "replay_batches",
                        lambda self, *a: calls.append(a[5]) or original(self, *a))

    def run(learning_rate):
        fn.manual_seed(0)
        m = fn.Sequential([layers.Dense(4, activation="relu"), layers.Dense(3)],
                          input_shape=(5,))
        m.compile(optimizer=optimizers.Adam(learning_rate),
                  loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True))
        rng = np.random.default_rng(1)
        x, y = rng.normal(size=(70, 5)).astype(np.float32), rng.integers(0, 3, 70)
        h = m.fit(x, y, batch_size=16, epochs=3, verbose=0)
        assert m.optimizer.iterations == 15
        return h.history["loss"]

    piecewise = run(schedules.PiecewiseConstantDecay([6], [0.1, 0.01]))
    assert calls == [3, 2, 2, 4]
    calls.clear()
    run(schedules.ExponentialDecay(0.1, 3, 0.5))
    assert calls == []
    # The run-by-run replay gives what step-by-step replays give.
    monkeypatch.setattr(optimizers.Optimizer, "_replay_steps", lambda self, count: 0)
    assert run(schedules.PiecewiseConstantDecay([6], [0.1, 0.01])) == piecewise


# --- PyTorch schedulers against torch's documented closed forms -------------------------------

def fastnn_optimizer(lr=0.1):
    return optim.SGD([fn.tensor(np.zeros(3), requires_grad=True)], lr=lr)


def closed_form_cases():
    base = 0.1
    return {
        "step": (lambda o: lr_scheduler.StepLR(o, step_size=4, gamma=0.3),
                 lambda e: base * 0.3 ** (e // 4)),
        "multistep": (lambda o: lr_scheduler.MultiStepLR(o, milestones=[3, 8, 8, 20], gamma=0.5),
                      lambda e: base * 0.5 ** bisect_right([3, 8, 8, 20], e)),
        "exponential": (lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9),
                        lambda e: base * 0.9 ** e),
        "cosine": (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=12, eta_min=0.001),
                   lambda e: 0.001 + (base - 0.001) * (1 + math.cos(math.pi * e / 12)) / 2),
        "lambda": (lambda o: lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + e) ** 0.5),
                   lambda e: base / (1 + e) ** 0.5),
        "linear_warmup": (lambda o: lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=6),
                          lambda e: base * (0.1 + 0.9 * min(e, 6) / 6)),
        "linear_decay": (lambda o: lr_scheduler.LinearLR(o, start_factor=1.0, end_factor=0.2,
                                                         total_iters=10),
                         lambda e: base * (1.0 - 0.8 * min(e, 10) / 10)),
        "constant": (lambda o: lr_scheduler.ConstantLR(o, factor=0.25, total_iters=4),
                     lambda e: base * (0.25 if e < 4 else 1.0)),
        "polynomial": (lambda o: lr_scheduler.PolynomialLR(o, total_iters=10, power=2.0),
                       lambda e: base * (1 - min(e, 10) / 10) ** 2),
        "multiplicative": (lambda o: lr_scheduler.MultiplicativeLR(o, lambda e: 0.95),
                           lambda e: base * 0.95 ** e),
    }


def stepped(make, epochs=40, lr=0.1):
    opt = fastnn_optimizer(lr)
    sched = make(opt)
    rates = [sched.get_last_lr()[0]]
    for _ in range(epochs):
        sched.step()
        rates.append(sched.get_last_lr()[0])
        assert opt.param_groups[0]["lr"] == rates[-1]
    return rates, opt


@pytest.mark.parametrize("name", sorted(closed_form_cases()))
def test_pytorch_scheduler_matches_its_closed_form(name):
    make, formula = closed_form_cases()[name]
    rates, opt = stepped(make)
    assert opt.param_groups[0]["initial_lr"] == 0.1
    for epoch, rate in enumerate(rates):
        assert rate == pytest.approx(formula(epoch), rel=1e-12, abs=1e-15), (name, epoch)


def test_deprecated_step_with_an_epoch_uses_the_closed_form():
    opt = fastnn_optimizer()
    sched = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(7)
    assert sched.get_last_lr() == [0.1 * 0.5 ** 2] and sched.last_epoch == 7


def test_pytorch_scheduler_argument_checks():
    with pytest.raises(TypeError, match="not a fastnn.optim Optimizer"):
        lr_scheduler.StepLR(optimizers.SGD(0.1), step_size=2)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        lr_scheduler.LinearLR(fastnn_optimizer(), start_factor=0.0)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(fastnn_optimizer(), step_size=2, last_epoch=3)
    with pytest.raises(ValueError, match="one more than the number of milestone"):
        opt = fastnn_optimizer()
        lr_scheduler.SequentialLR(opt, [lr_scheduler.ExponentialLR(opt, 0.9)], milestones=[2])


def test_scheduler_and_optimizer_state_resume():
    """Saved after 5 epochs and loaded into new objects, the schedule continues as if
    uninterrupted; the optimizer's state carries initial_lr as torch's does."""
    full, _ = stepped(lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=8), epochs=12)
    w = fn.tensor(np.zeros(3), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=8)
    for _ in range(5):
        sched.step()
    opt_state, sched_state = opt.state_dict(), sched.state_dict()
    assert opt_state["param_groups"][0]["initial_lr"] == 0.1
    w2 = fn.tensor(np.zeros(3), requires_grad=True)
    opt2 = optim.SGD([w2], lr=0.5)
    opt2.load_state_dict(opt_state)
    assert opt2.param_groups[0]["lr"] == full[5] and opt2.param_groups[0]["initial_lr"] == 0.1
    sched2 = lr_scheduler.CosineAnnealingLR(opt2, T_max=8, last_epoch=4)
    assert opt2.param_groups[0]["lr"] == full[5]  # resuming keeps the loaded rate
    sched2.load_state_dict(sched_state)
    rates = []
    for _ in range(7):
        sched2.step()
        rates.append(sched2.get_last_lr()[0])
    assert rates == full[6:]


# --- against torch.optim.lr_scheduler --------------------------------------------------------

def torch_cases():
    return {
        "step": ("StepLR", dict(step_size=4, gamma=0.3)),
        "multistep": ("MultiStepLR", dict(milestones=[3, 8, 8, 20], gamma=0.5)),
        "exponential": ("ExponentialLR", dict(gamma=0.9)),
        "cosine": ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),  # 40 epochs: periodic
        "lambda": ("LambdaLR", dict(lr_lambda=lambda e: 1 / (1 + e) ** 0.5)),
        "linear": ("LinearLR", dict(start_factor=0.1, total_iters=6)),
        "linear_decay": ("LinearLR", dict(start_factor=1.0, end_factor=0.2, total_iters=10)),
        "constant": ("ConstantLR", dict(factor=0.25, total_iters=4)),
        "polynomial": ("PolynomialLR", dict(total_iters=10, power=2.0)),
        "multiplicative": ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.95)),
    }


def torch_rates(torch, make, epochs=40, lr=0.1, metrics=None):
    opt = torch.optim.SGD([torch.zeros(3, requires_grad=True)], lr=lr)
    sched = make(opt)
    rates = [sched.get_last_lr()[0]]
    for epoch in range(epochs):
        opt.step()  # torch warns when the scheduler steps first
        sched.step() if metrics is None else sched.step(metrics[epoch])
        rates.append(sched.get_last_lr()[0])
    return rates


@pytest.mark.parametrize("name", sorted(torch_cases()))
def test_pytorch_scheduler_matches_torch(name):
    torch = pytest.importorskip("torch")
    cls, kwargs = torch_cases()[name]
    ours, _ = stepped(lambda o: getattr(lr_scheduler, cls)(o, **kwargs))
    theirs = torch_rates(torch, lambda o: getattr(torch.optim.lr_scheduler, cls)(o, **kwargs))
    assert ours == theirs  # the same float operations in the same order


def test_composed_schedulers_match_torch():
    torch = pytest.importorskip("torch")

    def warmup_then_cosine(lib):
        return lambda o: lib.SequentialLR(
            o, [lib.LinearLR(o, start_factor=0.1, total_iters=3),
                lib.CosineAnnealingLR(o, T_max=10, eta_min=0.01)], milestones=[3])

    ours, _ = stepped(warmup_then_cosine(lr_scheduler), epochs=20)
    theirs = torch_rates(torch, warmup_then_cosine(torch.optim.lr_scheduler), epochs=20)
    assert ours == theirs
    assert ours[:4] == pytest.approx([0.01, 0.04, 0.07, 0.1], rel=1e-12)  # the warm-up

    def chained(lib):
        def make(o):
            first = lib.StepLR(o, step_size=3, gamma=0.5)
            second = lib.ExponentialLR(o, gamma=0.9)
            return _Both(first, second)
        return make

    ours, _ = stepped(chained(lr_scheduler), epochs=15)
    theirs = torch_rates(torch, chained(torch.optim.lr_scheduler), epochs=15)
    assert ours == theirs


class _Both:
    """Two schedulers on one optimizer, stepped together (PyTorch's chaining)."""

    def __init__(self, first, second):
        self.first, self.second = first, second

    def step(self):
        self.first.step()
        self.second.step()

    def get_last_lr(self):
        return self.second.get_last_lr()


def test_reduce_lr_on_plateau_matches_torch():
    torch = pytest.importorskip("torch")
    metrics = [1.0, 0.9, 0.9, 0.95, 0.91, 0.7, 0.7, 0.7, 0.7, 0.69999, 0.7, 0.8, 0.5, 0.5]

    def make(lib):
        return lambda o: lib.ReduceLROnPlateau(o, factor=0.5, patience=1, cooldown=1,
                                               min_lr=0.02)

    opt = fastnn_optimizer()
    sched = make(lr_scheduler)(opt)
    ours = [sched.get_last_lr()[0]]
    for m in metrics:
        sched.step(m)
        ours.append(sched.get_last_lr()[0])
    assert ours == torch_rates(torch, make(torch.optim.lr_scheduler), len(metrics),
                               metrics=metrics)


# --- PyTorch schedulers drive the C++ update -------------------------------------------------

def test_a_pytorch_scheduler_sets_the_rate_of_captured_fit_steps():
    """fastnn.optim.SGD compiled into fit, a StepLR stepped at each epoch's end by a
    LambdaCallback (epoch-level: the epochs replay in one call): each epoch's five steps
    use the scheduled rate, captured or not."""
    results = []
    for capture in (True, False):
        fn.manual_seed(0)
        m = fn.Sequential([layers.Dense(1, use_bias=False)], input_shape=(3,))
        opt = optim.SGD(m.parameters(), lr=0.1)
        m.compile(optimizer=opt, loss="mse", capture=capture)
        sched = lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        w0 = m.get_weights()[0].astype(np.float64)
        x, y = regression()
        h = m.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                  callbacks=[callbacks.LambdaCallback(on_epoch_end=lambda e, l: sched.step())])
        expected = sgd_reference(w0, lambda t: 0.1 * 0.5 ** (t // 5))
        np.testing.assert_allclose(m.get_weights()[0], expected, rtol=2e-5, atol=1e-6)
        results.append((h.history["loss"], m.get_weights()[0].tobytes()))
    assert results[0] == results[1]


def test_a_pytorch_style_loop_with_a_scheduler():
    fn.manual_seed(0)
    layer = layers.Dense(1, use_bias=False)
    x, y = regression()
    layer(x[:1])
    w0 = layer.get_weights()[0].astype(np.float64)
    opt = optim.SGD(layer.parameters(), lr=0.2)
    sched = lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=2)
    loss_fn = fn.losses.MeanSquaredError()
    for _ in range(3):
        for lo in range(0, 40, 8):
            loss = loss_fn(layer(x[lo:lo + 8]), y[lo:lo + 8])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    rates = [0.2 * 0.25, 0.2 * 0.625, 0.2]  # start_factor + 0.75 * epoch / 2, capped at 1
    expected = sgd_reference(w0, lambda t: rates[t // 5])
    np.testing.assert_allclose(layer.get_weights()[0], expected, rtol=2e-5, atol=1e-6)
