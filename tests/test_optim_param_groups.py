"""Parameter groups in fastnn.optim against torch.optim 2.13 (float64, copied weights): each
group's own hyperparameters, changed between steps, add_param_group, the torch forms of
``params`` and their errors, state_dict's structure and round trip, the schedulers of
fastnn.optim.lr_scheduler on two groups (OneCycleLR and ReduceLROnPlateau included), and a
several-group optimizer in compile/fit (captured and eager)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastnn as fn  # noqa: E402
import fastnn.nn as nn  # noqa: E402
from fastnn import layers, optim  # noqa: E402
from fastnn.optim import lr_scheduler  # noqa: E402

torch.set_num_threads(1)
RNG = np.random.default_rng(2024)
X = RNG.standard_normal((11, 5))
Y = RNG.standard_normal((11, 3))


class Pair:
    """The same two-layer network (5 -> 7 -> tanh -> 3) in fastnn and in torch, float64, with
    torch's initial weights copied into fastnn."""

    def __init__(self, seed=0):
        torch.manual_seed(seed)
        self.t1, self.t2 = torch.nn.Linear(5, 7).double(), torch.nn.Linear(7, 3).double()
        self.f1, self.f2 = nn.Linear(5, 7).double(), nn.Linear(7, 3).double()
        self.f1.load_state_dict(self.t1.state_dict())
        self.f2.load_state_dict(self.t2.state_dict())
        self.initial = np.array(self.f1.weight, copy=True)

    def groups(self, lib, **first):
        """Two groups: the first layer with the options ``first``, the second with the
        constructor's defaults."""
        a, b = (self.f1, self.f2) if lib == "fn" else (self.t1, self.t2)
        return [{"params": list(a.parameters()), **first}, {"params": list(b.parameters())}]

    def step(self, lib, opt):
        opt.zero_grad()
        if lib == "fn":
            out = self.f2(self.f1(fn.from_numpy(X)).tanh())
            loss = ((out - fn.from_numpy(Y)) ** 2).mean()
        else:
            out = self.t2(self.t1(torch.from_numpy(X)).tanh())
            loss = ((out - torch.from_numpy(Y)) ** 2).mean()
        loss.backward()
        opt.step()

    def assert_same(self, rtol=1e-10):
        fastnn_params = list(self.f1.parameters()) + list(self.f2.parameters())
        torch_params = list(self.t1.parameters()) + list(self.t2.parameters())
        for p, q in zip(fastnn_params, torch_params):
            np.testing.assert_allclose(np.asarray(p), q.detach().numpy(), rtol=rtol,
                                       atol=1e-13)

    def moved(self):
        """Whether training moved the weights away from torch's initial ones (a test that
        compares nothing but the initial weights proves nothing)."""
        return not np.allclose(np.asarray(self.f1.weight), self.initial, atol=1e-3)


# name: (class name, constructor options, the first group's own options)
CASES = {
    "sgd": ("SGD", dict(lr=0.02, momentum=0.9), dict(lr=0.1, weight_decay=0.05)),
    "sgd-nesterov": ("SGD", dict(lr=0.05, momentum=0.5, nesterov=True),
                     dict(momentum=0.9, weight_decay=0.1)),
    "adam": ("Adam", dict(lr=0.01), dict(lr=0.03, betas=(0.8, 0.99), weight_decay=0.1)),
    "adam-amsgrad": ("Adam", dict(lr=0.01, amsgrad=True), dict(amsgrad=False, eps=1e-4)),
    "adamw": ("AdamW", dict(lr=0.01), dict(lr=0.02, weight_decay=0.3)),
    "rmsprop": ("RMSprop", dict(lr=0.01, momentum=0.3),
                dict(lr=0.003, centered=True, weight_decay=0.1)),
    "adagrad": ("Adagrad", dict(lr=0.05, initial_accumulator_value=0.1),
                dict(lr=0.1, lr_decay=0.01, weight_decay=0.05)),
}


def make(lib, pair, name, **extra):
    cls, defaults, first = CASES[name]
    module = optim if lib == "fn" else torch.optim
    return getattr(module, cls)(pair.groups(lib, **first), **{**defaults, **extra})


@pytest.mark.parametrize("name", sorted(CASES))
def test_two_groups_train_as_in_torch(name):
    """Each group's options are honoured, and changing one group's lr (and weight decay)
    between steps reaches only that group's update."""
    pair = Pair()
    opts = {lib: make(lib, pair, name) for lib in ("fn", "torch")}
    for k in range(6):
        if k == 3:
            for opt in opts.values():
                opt.param_groups[1]["lr"] *= 3
                opt.param_groups[0]["weight_decay"] = 0.2
        for lib, opt in opts.items():
            pair.step(lib, opt)
    pair.assert_same()
    assert pair.moved()


def test_one_group_of_dicts_equals_a_plain_list_bit_for_bit():
    a, b = Pair(), Pair()
    plain = optim.Adam(list(a.f1.parameters()) + list(a.f2.parameters()), lr=0.01)
    dicts = optim.Adam([{"params": list(b.f1.parameters()) + list(b.f2.parameters())}],
                       lr=0.01)
    for _ in range(4):
        a.step("fn", plain)
        b.step("fn", dicts)
    for p, q in zip(list(a.f1.parameters()) + list(a.f2.parameters()),
                    list(b.f1.parameters()) + list(b.f2.parameters())):
        np.testing.assert_array_equal(np.asarray(p), np.asarray(q))


def test_add_param_group_mid_training_as_torch():
    pair = Pair(1)
    opts = {"fn": optim.SGD(list(pair.f2.parameters()), lr=0.05, momentum=0.9),
            "torch": torch.optim.SGD(list(pair.t2.parameters()), lr=0.05, momentum=0.9)}
    for k in range(5):
        if k == 2:  # "unfreeze" the first layer with its own lr
            opts["fn"].add_param_group({"params": list(pair.f1.parameters()), "lr": 0.2})
            opts["torch"].add_param_group({"params": list(pair.t1.parameters()), "lr": 0.2})
        for lib, opt in opts.items():
            pair.step(lib, opt)
    pair.assert_same()
    group = opts["fn"].param_groups[1]
    assert group["lr"] == 0.2 and group["momentum"] == 0.9  # the rest from the defaults


def test_named_parameters_as_torch():
    pair = Pair()
    fopt = optim.SGD(pair.f1.named_parameters(), lr=0.1)
    topt = torch.optim.SGD(pair.t1.named_parameters(), lr=0.1)
    assert fopt.param_groups[0]["param_names"] == topt.param_groups[0]["param_names"] == [
        "weight", "bias"]
    assert fopt.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]
    with pytest.raises(ValueError, match="with or without names"):
        fopt.add_param_group({"params": list(pair.f2.parameters())})
    with pytest.raises(ValueError, match="with or without names"):
        optim.SGD([("w", pair.f1.weight), pair.f1.bias])


def test_params_forms_and_their_errors():
    pair = Pair()
    w, b = pair.f1.weight, pair.f1.bias
    opt = optim.SGD([{"params": w}, {"params": [b], "lr": 0.5}], lr=0.1)  # a lone tensor
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[0]["params"][0] is w
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.Adam([{"params": [w]}, {"params": [w, b]}])
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [b]})
    with pytest.raises(ValueError, match=r"appears more than once \(in parameter group 2\)"):
        opt.add_param_group({"params": [pair.f2.weight, pair.f2.weight]})
    assert len(opt.param_groups) == 2  # a refused group is not added
    with pytest.raises(KeyError, match="no 'params'"):
        optim.Adam([{"lr": 0.1}])
    with pytest.raises(TypeError, match="set"):
        optim.Adam({w, b})
    with pytest.raises(TypeError, match="set"):
        optim.Adam([{"params": {w}}])
    with pytest.raises(TypeError, match="must be a dict"):
        opt.add_param_group([pair.f2.weight])
    with pytest.raises(TypeError, match="item 1 is a Tensor"):
        optim.Adam([{"params": [w]}, b])
    with pytest.raises(TypeError, match="parameter 0 of parameter group 1 is a ndarray"):
        optim.Adam([{"params": [w]}, {"params": [np.zeros(3)]}])
    with pytest.raises(ValueError, match="expected lr >= 0"):
        optim.Adam([{"params": [w]}, {"params": [b], "lr": -1.0}])
    with pytest.raises(ValueError, match=r"betas\[0\]"):
        optim.Adam([{"params": [w], "betas": (1.5, 0.9)}])
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([{"params": [w], "nesterov": True}], lr=0.1)
    with pytest.raises(NotImplementedError, match="maximize=True"):
        optim.SGD([{"params": [w], "maximize": True}], lr=0.1)
    with pytest.raises(NotImplementedError, match="AdamW"):
        optim.Adam([{"params": [w], "decoupled_weight_decay": True}])
    with pytest.raises(ValueError, match="initial_accumulator_value=0.5 in a parameter group"):
        optim.Adagrad([{"params": [w], "initial_accumulator_value": 0.5}])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    # Implementation hints of torch's change nothing here; an empty group is allowed.
    quiet = optim.Adam([{"params": [w], "foreach": False, "fused": True}, {"params": []}])
    w.grad = fn.from_numpy(np.ones(w.shape))
    quiet.step()
    assert quiet.state_dict()["param_groups"][1]["params"] == []


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad_clears_every_group(set_to_none):
    pair = Pair()
    opt = make("fn", pair, "adam")
    pair.step("fn", opt)
    opt.zero_grad(set_to_none=set_to_none)
    for p in list(pair.f1.parameters()) + list(pair.f2.parameters()):
        if set_to_none:
            assert p.grad is None
        else:
            np.testing.assert_array_equal(np.asarray(p.grad), 0.0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_dict_has_torchs_structure(name):
    pair = Pair()
    opts = {lib: make(lib, pair, name) for lib in ("fn", "torch")}
    for _ in range(2):
        for lib, opt in opts.items():
            pair.step(lib, opt)
    mine, theirs = opts["fn"].state_dict(), opts["torch"].state_dict()
    assert len(mine["param_groups"]) == len(theirs["param_groups"]) == 2
    for g, h in zip(mine["param_groups"], theirs["param_groups"]):
        assert g["params"] == h["params"]
        # fastnn's options are torch's (torch adds foreach, maximize, ...), same values
        assert set(g) <= set(h), sorted(set(g) - set(h))
        assert {k: g[k] for k in g} == {k: h[k] for k in g}
    assert sorted(mine["state"]) == sorted(theirs["state"]) == [0, 1, 2, 3]
    for i, entry in theirs["state"].items():
        # torch's SGD keeps no step count; the others count steps as fastnn does
        assert set(mine["state"][i]) - {"step"} == set(entry) - {"step"}
        if "step" in entry:
            assert mine["state"][i]["step"] == int(entry["step"]) == 2
        for key, value in entry.items():
            if key != "step":
                np.testing.assert_allclose(mine["state"][i][key], value.numpy(), rtol=1e-10,
                                           atol=1e-14)


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_dict_round_trip_continues_bitwise(name):
    source = Pair()
    source_opt = make("fn", source, name)
    for _ in range(3):
        source.step("fn", source_opt)
    saved = source_opt.state_dict()
    target = Pair(5)  # other weights, other options: everything comes from the saved state
    target_opt = make("fn", target, name, lr=0.5)
    target.f1.load_state_dict(source.f1.state_dict())
    target.f2.load_state_dict(source.f2.state_dict())
    target_opt.load_state_dict(saved)
    assert target_opt.param_groups[0]["lr"] == source_opt.param_groups[0]["lr"]
    assert target_opt.param_groups[1]["lr"] == source_opt.param_groups[1]["lr"]
    for _ in range(3):
        source.step("fn", source_opt)
        target.step("fn", target_opt)
    for p, q in zip(list(source.f1.parameters()) + list(source.f2.parameters()),
                    list(target.f1.parameters()) + list(target.f2.parameters())):
        np.testing.assert_array_equal(np.asarray(p), np.asarray(q))


def test_load_state_dict_checks_the_groups_before_changing_anything():
    pair = Pair()
    opt = make("fn", pair, "adam")
    pair.step("fn", opt)
    saved = opt.state_dict()
    other = Pair()
    one_group = optim.Adam(list(other.f1.parameters()) + list(other.f2.parameters()))
    with pytest.raises(ValueError, match="a list of one dict"):
        one_group.load_state_dict(saved)
    swapped = optim.Adam([{"params": list(other.f2.parameters()) + [other.f1.bias]},
                          {"params": [other.f1.weight]}])
    with pytest.raises(ValueError, match=r"param_groups\[0\] to hold 3 parameters"):
        swapped.load_state_dict(saved)
    fresh = make("fn", other, "adam", lr=0.5)
    bad = opt.state_dict()
    del bad["param_groups"][1]["eps"]
    with pytest.raises(KeyError, match=r"missing \['eps'\] in param_groups\[1\]"):
        fresh.load_state_dict(bad)
    assert fresh.param_groups[1]["lr"] == 0.5  # unchanged


def test_one_group_keeps_its_state_dict_form():
    """One group: the C++ optimizer is the one it always was (fit's captured step reads it
    as _native), and state_dict lists the group's parameter indices as torch's."""
    pair = Pair()
    opt = optim.SGD(list(pair.f1.parameters()), lr=0.1, momentum=0.9)
    assert isinstance(opt._native, fn._C.SGD)
    pair.step("fn", opt)
    state = opt.state_dict()
    assert state["param_groups"] == [dict(lr=0.1, momentum=0.9, dampening=0.0,
                                          weight_decay=0.0, nesterov=False, params=[0, 1])]
    assert repr(opt) == ("SGD(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, "
                         "nesterov=False)")


# --- schedulers on two groups ---------------------------------------------------------------

def _two_groups(lib, cls="SGD", **options):
    if lib == "fn":
        ps = [fn.tensor(np.zeros(2), requires_grad=True), fn.tensor(np.zeros(3),
                                                                     requires_grad=True)]
        module = optim
    else:
        ps = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))]
        module = torch.optim
    return getattr(module, cls)([{"params": ps[:1], "lr": 0.3}, {"params": ps[1:]}],
                                **{"lr": 0.1, **options})


def _momenta(opt):
    return [g["betas"] if "betas" in g else g["momentum"] for g in opt.param_groups]


SCHEDULERS = {
    "step": (lambda L, o: L.StepLR(o, step_size=3, gamma=0.5), 12),
    "multistep": (lambda L, o: L.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3), 12),
    "exponential": (lambda L, o: L.ExponentialLR(o, gamma=0.9), 12),
    "cosine": (lambda L, o: L.CosineAnnealingLR(o, T_max=5, eta_min=0.01), 17),
    "linear": (lambda L, o: L.LinearLR(o, start_factor=0.2, total_iters=6), 10),
    "constant": (lambda L, o: L.ConstantLR(o, factor=0.5, total_iters=3), 6),
    "polynomial": (lambda L, o: L.PolynomialLR(o, total_iters=7, power=1.5), 10),
    "lambda": (lambda L, o: L.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: 1 / (1 + e)]), 8),
    "multiplicative": (lambda L, o: L.MultiplicativeLR(o, lambda e: 0.8), 8),
    "sequential": (lambda L, o: L.SequentialLR(
        o, [L.LinearLR(o, start_factor=0.1, total_iters=3),
            L.CosineAnnealingLR(o, T_max=6)], milestones=[3]), 12),
    "onecycle-sgd": (lambda L, o: L.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=23), 22),
    "onecycle-three-phase-linear": (lambda L, o: L.OneCycleLR(
        o, max_lr=0.8, epochs=3, steps_per_epoch=7, three_phase=True,
        anneal_strategy="linear", base_momentum=[0.8, 0.7], div_factor=10.0,
        final_div_factor=100.0), 20),
    "onecycle-no-momentum": (lambda L, o: L.OneCycleLR(o, max_lr=0.4, total_steps=9,
                                                       pct_start=0.5, cycle_momentum=False), 8),
}


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_sets_every_group_as_torch(name):
    build, steps = SCHEDULERS[name]
    runs = []
    for lib, module in (("fn", lr_scheduler), ("torch", torch.optim.lr_scheduler)):
        opt = _two_groups(lib, momentum=0.9)
        sched = build(module, opt)
        seen = [(sched.get_last_lr(), _momenta(opt))]
        for _ in range(steps):
            if lib == "torch":
                opt.step()  # torch warns when a scheduler steps first
            sched.step()
            seen.append((sched.get_last_lr(), _momenta(opt)))
        assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
        runs.append((seen, getattr(sched, "base_lrs", None)))
    assert runs[0] == runs[1]  # float for float
    assert len({lrs[0] for lrs, _ in runs[0][0]}) > 1  # the rates changed


def test_onecycle_cycles_adams_beta1_and_trains_as_torch():
    """OneCycleLR on Adam moves betas[0] every step; the C++ update must read it live
    (bias corrections with the current beta1, as torch computes them)."""
    pair = Pair(3)
    opts = {lib: make(lib, pair, "adam") for lib in ("fn", "torch")}
    scheds = {"fn": lr_scheduler.OneCycleLR(opts["fn"], max_lr=[0.05, 0.02], total_steps=8),
              "torch": torch.optim.lr_scheduler.OneCycleLR(opts["torch"], max_lr=[0.05, 0.02],
                                                           total_steps=8)}
    for _ in range(7):
        for lib in ("fn", "torch"):
            pair.step(lib, opts[lib])
            scheds[lib].step()
        assert _momenta(opts["fn"]) == _momenta(opts["torch"])
    pair.assert_same()
    assert pair.moved()


def test_onecycle_errors_as_torch():
    with pytest.raises(ValueError, match="total_steps OR"):
        lr_scheduler.OneCycleLR(_two_groups("fn"), max_lr=0.1)
    with pytest.raises(ValueError, match="same length as optimizer.param_groups"):
        lr_scheduler.OneCycleLR(_two_groups("fn"), max_lr=[0.1], total_steps=5)
    with pytest.raises(ValueError, match="pct_start"):
        lr_scheduler.OneCycleLR(_two_groups("fn"), max_lr=0.1, total_steps=5, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        lr_scheduler.OneCycleLR(_two_groups("fn"), 0.1, 5, anneal_strategy="exp")
    with pytest.raises(ValueError, match="momentum or beta1"):
        lr_scheduler.OneCycleLR(_two_groups("fn", "Adagrad"), max_lr=0.1, total_steps=5)
    sched = lr_scheduler.OneCycleLR(_two_groups("fn", momentum=0.9), max_lr=0.1, total_steps=3)
    sched.step(), sched.step(), sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()


def test_reduce_lr_on_plateau_on_two_groups_as_torch():
    metrics = [1.0, 0.9, 0.95, 0.97, 0.99, 0.98, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2]
    runs = []
    for lib, module in (("fn", lr_scheduler), ("torch", torch.optim.lr_scheduler)):
        opt = _two_groups(lib)
        sched = module.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1,
                                         min_lr=[0.05, 0.02], threshold=0.01)
        seen = []
        for m in metrics:
            sched.step(m)
            seen.append(sched.get_last_lr())
        runs.append(seen)
        # a group added later takes min_lr's single value; a list must be set again
        opt.add_param_group({"params": [fn.tensor(np.zeros(1), requires_grad=True)
                                        if lib == "fn" else torch.nn.Parameter(torch.zeros(1))]})
        with pytest.raises(RuntimeError, match="min_lrs"):
            for _ in range(4):
                sched.step(9.0)
    assert runs[0] == runs[1]
    assert runs[0][-1] == [0.05, 0.02] and runs[0][0] == [0.3, 0.1]


# --- several groups in compile / fit ----------------------------------------------------------

def _fitted(capture, second_lr_later=0.05):
    fn.manual_seed(4)
    model = fn.Sequential([layers.Dense(6, activation="tanh", input_shape=(5,)),
                           layers.Dense(3)])
    first, second = model.layers
    opt = optim.SGD([{"params": first.trainable_weights, "lr": 0.1},
                     {"params": second.trainable_weights, "lr": 0.0}], momentum=0.5)
    model.compile(optimizer=opt, loss="mse", capture=capture)
    x, y = X.astype(np.float32), Y.astype(np.float32)
    before = [np.array(w, copy=True) for w in second.trainable_weights]
    model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    frozen = all(np.array_equal(np.asarray(w), b)
                 for w, b in zip(second.trainable_weights, before))
    opt.param_groups[1]["lr"] = second_lr_later  # reaches the captured step's second group
    model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    moved = not all(np.array_equal(np.asarray(w), b)
                    for w, b in zip(second.trainable_weights, before))
    return frozen, moved, [np.array(w, copy=True) for w in model.trainable_weights]


def test_fit_with_several_groups_captured_equals_eager():
    frozen, moved, captured = _fitted(capture=True)
    assert frozen and moved
    frozen, moved, eager = _fitted(capture=False)
    assert frozen and moved
    for a, b in zip(captured, eager):
        np.testing.assert_array_equal(a, b)
