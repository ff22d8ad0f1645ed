"""fastnn.nn's loss modules and F forms against PyTorch in float64 on fresh random inputs
of odd shapes: values and the gradients of input (and target where torch gives one) for
every reduction, class weights, ignore_index, label smoothing, probability targets,
K-dimensional inputs, pos_weight, log_target; that the common cross-entropy case runs the
fused op (and a captured step replays it); the errors; and a PyTorch-style training loop
(Linear, ReLU, Softmax(dim=1), CrossEntropyLoss, fastnn.optim.Adam) that learns the digits."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastnn as fn  # noqa: E402
import fastnn.nn as nn  # noqa: E402
import fastnn.nn.functional as F  # noqa: E402
from fastnn import _C  # noqa: E402

TF = torch.nn.functional
RTOL, ATOL = 1e-10, 1e-12
REDUCTIONS = ["mean", "sum", "none"]


def leaf(a):
    """The same float64 values as a fastnn and a torch leaf that require grad."""
    x = fn.from_numpy(np.array(a, dtype=np.float64))
    x.requires_grad = True
    return x, torch.tensor(a, dtype=torch.float64, requires_grad=True)


def close(mine, theirs):
    np.testing.assert_allclose(np.asarray(mine.detach().numpy() if hasattr(mine, "detach")
                                          else mine), theirs.detach().numpy(),
                               rtol=RTOL, atol=ATOL)


def compare(rng, mine, theirs, a, target, target_grad=False):
    """loss = mine(x, target) and theirs(tx, ttarget): values, and the gradients of a random
    weighting of the loss (a scalar or per element) for the input (and the float target)."""
    x, tx = leaf(a)
    if target_grad:
        t, tt = leaf(target)
    else:
        t = fn.from_numpy(np.array(target))
        tt = torch.tensor(target)
    y, ty = mine(x, t), theirs(tx, tt)
    assert tuple(y.shape) == tuple(ty.shape), (y.shape, ty.shape)
    close(y, ty)
    g = rng.standard_normal(tuple(ty.shape))
    (y * fn.from_numpy(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    close(x.grad, tx.grad)
    if target_grad:
        close(t.grad, tt.grad)


def labels(rng, shape, classes, ignore=None, count=0):
    """Class indices in [0, classes), ``count`` of them replaced by ``ignore``."""
    y = rng.integers(0, classes, size=shape)
    if count:
        flat = y.reshape(-1)
        flat[rng.choice(flat.size, size=count, replace=False)] = ignore
    return y


# --- cross entropy with class indices -----------------------------------------------------

CE_SHAPES = [((7, 5), (7,)), ((5,), ()), ((3, 4, 5), (3, 5)), ((2, 3, 3, 5), (2, 3, 5))]
IGNORE = {  # ignore_index, and how many targets hold it
    "none-ignored": (-100, 0), "default-ignored": (-100, 2), "class-ignored": (1, -1),
}


@pytest.mark.parametrize("shapes", CE_SHAPES, ids=str)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("ignore", list(IGNORE))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_class_indices_matches_torch(shapes, weighted, ignore, reduction,
                                                   smoothing):
    (xs, ys), (ignore_index, count) = shapes, IGNORE[ignore]
    rng = np.random.default_rng(abs(hash((xs, weighted, ignore, reduction, smoothing))) % 2**32)
    classes = xs[0] if len(xs) == 1 else xs[1]
    if not ys and count > 0:
        count = 1
    y = labels(rng, ys, classes, ignore_index, max(count, 0))
    if count < 0:  # an ignore_index that is a class: whatever holds it is skipped
        ignore_index = int(np.asarray(y).reshape(-1)[0])
    w = rng.uniform(0.2, 2.0, classes) if weighted else None
    kwargs = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
    mine = nn.CrossEntropyLoss(weight=w, **kwargs)
    theirs = torch.nn.CrossEntropyLoss(weight=None if w is None else torch.tensor(w), **kwargs)
    compare(rng, mine, theirs, rng.standard_normal(xs) * 2, y)
    compare(rng, lambda a, t: F.cross_entropy(a, t, None if w is None else fn.from_numpy(w),
                                              **kwargs),
            lambda a, t: TF.cross_entropy(a, t, None if w is None else torch.tensor(w), **kwargs),
            rng.standard_normal(xs), y)


def test_captured_cross_entropy_follows_targets_that_turn_ignored():
    """Which path cross_entropy takes must not depend on the targets' values: a step
    captured on a batch without ignore_index and replayed after targets of the same buffer
    became -100 gives what the eager step gives on them (not an error, not another loss)."""
    x, y = fn.datasets.load_digits()
    x, y = fn.tensor(x[:40] / 16.0), y[:40].astype(np.int64)
    ignored = y.copy()
    ignored[::3] = -100
    results = {}
    for mode in ("eager", "captured"):
        model, loss_fn = _mlp(2), nn.CrossEntropyLoss()
        yt = fn.from_numpy(y.copy())
        out = model(x)
        if mode == "captured":
            plan = _C.Plan()
            plan.begin_capture()
            loss = loss_fn(out := model(x), yt)
            loss.backward()
            plan.end_capture(list(model.parameters()))
            assert not plan.refusal, plan.refusal
            for p in model.parameters():
                p.grad.zero_()
            np.asarray(yt)[...] = ignored  # the plan's target buffer, changed in place
            plan.replay()
        else:
            np.asarray(yt)[...] = ignored
            loss = loss_fn(out, yt)
            loss.backward()
        results[mode] = (loss.item(), [np.array(p.grad) for p in model.parameters()])
    assert np.isfinite(results["eager"][0])
    np.testing.assert_allclose(results["captured"][0], results["eager"][0], rtol=1e-6)
    for a, b in zip(results["captured"][1], results["eager"][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


# --- cross entropy with class probabilities -------------------------------------------------

@pytest.mark.parametrize("shape", [(6, 4), (5,), (2, 3, 4), (2, 4, 3, 2)], ids=str)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_probabilities_matches_torch(shape, weighted, reduction, smoothing):
    rng = np.random.default_rng(abs(hash((shape, weighted, reduction, smoothing))) % 2**32)
    classes = shape[0] if len(shape) == 1 else shape[1]
    p = rng.uniform(0.0, 1.0, shape)
    p /= p.sum(axis=0 if len(shape) == 1 else 1, keepdims=True)
    w = rng.uniform(0.2, 2.0, classes) if weighted else None
    kwargs = dict(reduction=reduction, label_smoothing=smoothing)
    compare(rng, nn.CrossEntropyLoss(weight=w, **kwargs),
            torch.nn.CrossEntropyLoss(weight=None if w is None else torch.tensor(w), **kwargs),
            rng.standard_normal(shape), p)
    # Unnormalised targets and target gradients too (torch differentiates both).
    compare(rng, nn.CrossEntropyLoss(weight=w, **kwargs),
            torch.nn.CrossEntropyLoss(weight=None if w is None else torch.tensor(w), **kwargs),
            rng.standard_normal(shape), rng.uniform(0.0, 2.0, shape), target_grad=True)


# --- NLL --------------------------------------------------------------------------------------

@pytest.mark.parametrize("shapes", CE_SHAPES, ids=str)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("ignore", list(IGNORE))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch(shapes, weighted, ignore, reduction):
    (xs, ys), (ignore_index, count) = shapes, IGNORE[ignore]
    rng = np.random.default_rng(abs(hash((xs, weighted, ignore, reduction))) % 2**32)
    classes = xs[0] if len(xs) == 1 else xs[1]
    y = labels(rng, ys, classes, ignore_index, min(max(count, 0), max(int(np.prod(ys)), 1) - 1))
    if count < 0:
        ignore_index = int(np.asarray(y).reshape(-1)[0])
    w = rng.uniform(0.2, 2.0, classes) if weighted else None
    kwargs = dict(ignore_index=ignore_index, reduction=reduction)
    logp = torch.log_softmax(torch.tensor(rng.standard_normal(xs)), 0 if len(xs) == 1 else 1)
    compare(rng, nn.NLLLoss(weight=w, **kwargs),
            torch.nn.NLLLoss(weight=None if w is None else torch.tensor(w), **kwargs),
            logp.numpy(), y)
    compare(rng, lambda a, t: F.nll_loss(a, t, w, **kwargs),
            lambda a, t: TF.nll_loss(a, t, None if w is None else torch.tensor(w), **kwargs),
            rng.standard_normal(xs), y)


def test_log_softmax_then_nll_equals_cross_entropy():
    rng = np.random.default_rng(8)
    x = fn.from_numpy(rng.standard_normal((9, 4)))
    y = labels(rng, (9,), 4)
    close(F.nll_loss(F.log_softmax(x, 1), y), TF.cross_entropy(torch.tensor(x.numpy()),
                                                               torch.tensor(y)))


# --- pointwise losses -------------------------------------------------------------------------

POINTWISE = [
    ("mse", lambda r: nn.MSELoss(reduction=r), lambda r: torch.nn.MSELoss(reduction=r)),
    ("l1", lambda r: nn.L1Loss(reduction=r), lambda r: torch.nn.L1Loss(reduction=r)),
    ("smooth_l1", lambda r: nn.SmoothL1Loss(reduction=r),
     lambda r: torch.nn.SmoothL1Loss(reduction=r)),
    ("smooth_l1-beta", lambda r: nn.SmoothL1Loss(reduction=r, beta=0.4),
     lambda r: torch.nn.SmoothL1Loss(reduction=r, beta=0.4)),
    ("smooth_l1-beta0", lambda r: nn.SmoothL1Loss(reduction=r, beta=0.0),
     lambda r: torch.nn.SmoothL1Loss(reduction=r, beta=0.0)),
    ("huber", lambda r: nn.HuberLoss(reduction=r), lambda r: torch.nn.HuberLoss(reduction=r)),
    ("huber-delta", lambda r: nn.HuberLoss(reduction=r, delta=2.5),
     lambda r: torch.nn.HuberLoss(reduction=r, delta=2.5)),
    ("kl", lambda r: nn.KLDivLoss(reduction=r), lambda r: torch.nn.KLDivLoss(reduction=r)),
    ("kl-log", lambda r: nn.KLDivLoss(reduction=r, log_target=True),
     lambda r: torch.nn.KLDivLoss(reduction=r, log_target=True)),
    ("bce-logits", lambda r: nn.BCEWithLogitsLoss(reduction=r),
     lambda r: torch.nn.BCEWithLogitsLoss(reduction=r)),
]


def targets_for(name, rng, shape, zeros=True):
    if name == "kl":  # probabilities, some exactly 0 (0 log 0 = 0)
        t = rng.uniform(0.0, 1.0, shape)
        if zeros:  # not for target gradients: log(0) + 1 - x is -inf (torch: NaN)
            t.reshape(-1)[::4] = 0.0
        return t
    if name == "kl-log":
        return np.log(rng.uniform(0.05, 1.0, shape))
    if name == "bce-logits":
        return rng.uniform(0.0, 1.0, shape)
    return rng.standard_normal(shape) * 2


@pytest.mark.parametrize("case", POINTWISE, ids=[c[0] for c in POINTWISE])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)], ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
def test_pointwise_losses_match_torch(case, shape, reduction):
    name, mine, theirs = case
    if reduction == "batchmean" and not name.startswith("kl"):
        return
    rng = np.random.default_rng(abs(hash((name, shape, reduction))) % 2**32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # KL's 'mean' warns, as torch's does
        compare(rng, mine(reduction), theirs(reduction), rng.standard_normal(shape) * 2,
                targets_for(name, rng, shape))
        # With a target that requires grad: the composed path, both gradients.
        compare(rng, mine(reduction), theirs(reduction), rng.standard_normal(shape) * 2,
                targets_for(name, rng, shape, zeros=False), target_grad=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_pointwise_weight_matches_torch(name, reduction):
    """F.mse_loss/l1_loss/huber_loss(weight=): torch's weighted means (sum(w l) / sum(w) for
    mse and l1, mean(w l) for huber)."""
    rng = np.random.default_rng(len(name) + len(reduction))
    w = rng.uniform(0.1, 2.0, (4, 3))
    compare(rng, lambda a, t: getattr(F, name)(a, t, reduction=reduction, weight=w),
            lambda a, t: getattr(TF, name)(a, t, reduction=reduction, weight=torch.tensor(w)),
            rng.standard_normal((4, 3)), rng.standard_normal((4, 3)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_bce_matches_torch(reduction, weighted):
    rng = np.random.default_rng(11 + weighted)
    shape = (5, 3)
    w = rng.uniform(0.2, 2.0, (3,)) if weighted else None
    p = rng.uniform(0.02, 0.98, shape)
    compare(rng, nn.BCELoss(weight=w, reduction=reduction),
            torch.nn.BCELoss(weight=None if w is None else torch.tensor(w), reduction=reduction),
            p, rng.uniform(0, 1, shape), target_grad=True)
    compare(rng, lambda a, t: F.binary_cross_entropy(a, t, w, reduction=reduction),
            lambda a, t: TF.binary_cross_entropy(a, t, None if w is None else torch.tensor(w),
                                                 reduction=reduction),
            p, (rng.uniform(0, 1, shape) > 0.5).astype(np.float64))


def test_bce_at_exact_zero_and_one_matches_torch():
    """Probabilities of exactly 0 and 1 (a saturated sigmoid): logs clamped at -100 and
    torch's gradient (x - t) / max(x (1 - x), 1e-12), not NaN. (The target's gradient there
    is torch's log(1 - x) - log(x) with the logs clamped at -100: finite, where torch's is
    infinite; test_bce_matches_torch checks it inside (0, 1).)"""
    rng = np.random.default_rng(12)
    p = np.array([0.0, 1.0, 0.0, 1.0, 1e-50, 0.5])
    t = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.3])
    compare(rng, nn.BCELoss(reduction="none"), torch.nn.BCELoss(reduction="none"), p, t)
    x, t = leaf(p)[0], leaf(t)[0]
    nn.BCELoss()(x, t).backward()
    assert np.isfinite(t.grad.numpy()).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", ["weight", "pos_weight", "both"])
def test_bce_with_logits_weights_match_torch(reduction, options):
    rng = np.random.default_rng(len(options) + len(reduction))
    shape = (6, 4)
    w = rng.uniform(0.2, 2.0, (6, 1)) if options != "pos_weight" else None
    pw = rng.uniform(0.5, 3.0, (4,)) if options != "weight" else None
    a = rng.standard_normal(shape) * 3
    a[0, 0] = 0.0  # exactly 0: the gradient there is sigmoid(0) - t, not a kink
    for target_grad in (False, True):
        compare(rng, nn.BCEWithLogitsLoss(weight=w, pos_weight=pw, reduction=reduction),
                torch.nn.BCEWithLogitsLoss(
                    weight=None if w is None else torch.tensor(w),
                    pos_weight=None if pw is None else torch.tensor(pw), reduction=reduction),
                a, rng.uniform(0, 1, shape), target_grad=target_grad)


def test_pointwise_broadcast_warns_like_torch():
    rng = np.random.default_rng(13)
    a, t = rng.standard_normal((5, 1)), rng.standard_normal((5,))
    with pytest.warns(UserWarning, match="target size"):
        mine = F.mse_loss(fn.from_numpy(a), fn.from_numpy(t))
    with pytest.warns(UserWarning):
        theirs = TF.mse_loss(torch.tensor(a), torch.tensor(t))
    close(mine, theirs)


def test_legacy_size_average_and_reduce_match_torch():
    rng = np.random.default_rng(14)
    a, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    for size_average, reduce in [(False, None), (None, False), (True, True)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mine = nn.MSELoss(size_average=size_average, reduce=reduce)
            theirs = torch.nn.MSELoss(size_average=size_average, reduce=reduce)
        assert mine.reduction == theirs.reduction
        close(mine(fn.from_numpy(a), fn.from_numpy(t)), theirs(torch.tensor(a), torch.tensor(t)))


def test_float32_losses_are_float32():
    rng = np.random.default_rng(15)
    x = fn.tensor(rng.standard_normal((6, 4)), dtype=fn.float32)
    assert nn.CrossEntropyLoss()(x, labels(rng, (6,), 4)).dtype == "float32"
    assert nn.MSELoss()(x, rng.standard_normal((6, 4))).dtype == "float32"
    assert nn.BCEWithLogitsLoss()(x, rng.uniform(0, 1, (6, 4)).tolist()).dtype == "float32"


# --- targets, modules and errors --------------------------------------------------------------

def test_targets_as_tensors_arrays_and_lists():
    rng = np.random.default_rng(16)
    a = rng.standard_normal((5, 3))
    y = labels(rng, (5,), 3)
    expected = TF.cross_entropy(torch.tensor(a), torch.tensor(y))
    x = fn.from_numpy(a)
    for target in (y, y.tolist(), fn.tensor(y), fn.tensor(y.astype(np.int32)),
                   y.astype(np.int32), y.astype(np.uint8)):
        close(nn.CrossEntropyLoss()(x, target), expected)
    close(nn.MSELoss()(x, a.tolist()), torch.tensor(0.0, dtype=torch.float64))


def test_array_target_is_copied_while_recording():
    """The backward reads the targets: changing the array after the call changes nothing."""
    rng = np.random.default_rng(17)
    x, tx = leaf(rng.standard_normal((4, 3)))
    t = rng.standard_normal((4, 3))
    loss = nn.MSELoss()(x, t)
    expected = TF.mse_loss(tx, torch.tensor(t))
    t[:] = 0.0
    loss.backward()
    expected.backward()
    close(x.grad, tx.grad)


def test_state_dict_and_repr_match_torch():
    w = np.array([1.0, 2.0, 0.5], dtype=np.float32)
    pairs = [(nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()),
             (nn.CrossEntropyLoss(weight=w), torch.nn.CrossEntropyLoss(weight=torch.tensor(w))),
             (nn.NLLLoss(weight=w), torch.nn.NLLLoss(weight=torch.tensor(w))),
             (nn.BCEWithLogitsLoss(weight=w, pos_weight=w),
              torch.nn.BCEWithLogitsLoss(weight=torch.tensor(w), pos_weight=torch.tensor(w))),
             (nn.MSELoss(), torch.nn.MSELoss()), (nn.KLDivLoss(), torch.nn.KLDivLoss())]
    for mine, theirs in pairs:
        assert repr(mine) == repr(theirs)
        assert list(mine.state_dict()) == list(theirs.state_dict())
        for key, value in theirs.state_dict().items():
            np.testing.assert_array_equal(mine.state_dict()[key], value.numpy())
        assert mine.parameters() == []
        assert mine.reduction == theirs.reduction
    loss = nn.CrossEntropyLoss(ignore_index=3, label_smoothing=0.1, reduction="sum")
    assert (loss.ignore_index, loss.label_smoothing, loss.reduction) == (3, 0.1, "sum")


def test_weighted_loss_module_double():
    """.double() casts the weight buffer with the rest, as torch's."""
    loss = nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0]).double()
    assert loss.weight.dtype == "float64"


@pytest.mark.parametrize("weighted", [False, True])
def test_class_index_out_of_range_raises_index_error(weighted):
    x = fn.from_numpy(np.zeros((4, 3)))
    w = [1.0, 1.0, 1.0] if weighted else None
    for bad in ([0, 1, 3, 2], [0, -1, 1, 2], [0, -100, 5, 1]):
        with pytest.raises(IndexError, match="out of bounds|labels must be"):
            nn.CrossEntropyLoss(weight=w)(x, bad)
        with pytest.raises(IndexError, match="out of bounds"):
            F.nll_loss(x, bad, weight=w)
    with pytest.raises(IndexError, match=r"Target 5 is out of bounds"):
        nn.CrossEntropyLoss(weight=w, ignore_index=1)(x, [0, 1, 5, 2])


def test_bad_shapes_and_types_raise_clear_errors():
    x = fn.from_numpy(np.zeros((4, 3)))
    ce = nn.CrossEntropyLoss()
    with pytest.raises(ValueError, match=r"expected target of shape \(4,\)"):
        ce(x, [0, 1, 2])
    with pytest.raises(ValueError, match="class probabilities"):
        ce(x, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="class indices must be integers"):
        ce(x, np.zeros(4))
    with pytest.raises(TypeError, match="bool"):
        ce(x, np.ones(4, bool))
    with pytest.raises(ValueError, match="scalar"):
        ce(fn.from_numpy(np.zeros(())), 0)
    with pytest.raises(ValueError, match=r"weight of shape \(3,\)"):
        nn.CrossEntropyLoss(weight=[1.0, 2.0])(x, [0, 1, 2, 0])
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, [0, 1, 2, 0], reduction="batchmean")
    with pytest.raises(TypeError, match="class indices"):
        nn.NLLLoss()(x, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="input's shape"):
        nn.BCEWithLogitsLoss()(x, np.zeros((4, 1)))
    with pytest.raises(ValueError, match="nor broadcast"):
        nn.MSELoss()(x, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.BCELoss()(fn.from_numpy(np.array([0.5, 1.5])), [0.0, 1.0])
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.BCELoss()(fn.from_numpy(np.array([0.5, np.nan])), [0.0, 1.0])
    with pytest.raises(ValueError, match="weight of the input's shape"):
        F.mse_loss(x, x, weight=np.ones(3))
    with pytest.raises(ValueError, match="delta > 0"):
        nn.HuberLoss(delta=0.0)
    with pytest.raises(ValueError, match="beta >= 0"):
        F.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(TypeError, match="float32 or float64 input"):
        nn.MSELoss()(fn.tensor([1, 2]), [1, 2])


# --- capture and training -------------------------------------------------------------------------

def _mlp(seed):
    fn.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10), nn.Softmax(dim=1))


@pytest.mark.parametrize("kind", ["fused", "ignored", "weighted", "smoothed"])
def test_cross_entropy_step_is_captured_and_replays_like_eager(kind):
    """A PyTorch-style step (forward, CrossEntropyLoss, backward, Adam) records no host read,
    so a plan captures it; replaying the plan gives what eager steps give."""
    x, y = fn.datasets.load_digits()
    x, y = fn.tensor(x[:48] / 16.0), y[:48].copy()
    if kind == "ignored":
        y[::5] = -100
    options = {"weighted": dict(weight=np.linspace(0.5, 1.5, 10)),
               "smoothed": dict(label_smoothing=0.1)}.get(kind, {})
    yt = fn.tensor(y)
    losses = {}
    for mode in ("eager", "captured"):
        model, loss_fn = _mlp(1), nn.CrossEntropyLoss(**options)
        optimizer = fn.optim.Adam(model.parameters(), lr=0.01)

        def step():
            optimizer.zero_grad(set_to_none=False)
            loss = loss_fn(model(x), yt)
            loss.backward()
            optimizer.step()
            return loss

        values = [step().item()]
        if mode == "eager":
            values += [step().item() for _ in range(3)]
        else:
            plan = _C.Plan()
            plan.begin_capture()
            loss = step()
            plan.end_capture(list(model.parameters()))
            assert not plan.refusal, plan.refusal
            values.append(loss.item())
            for _ in range(2):
                plan.replay()
                values.append(loss.item())
        losses[mode] = values
    np.testing.assert_allclose(losses["captured"], losses["eager"], rtol=1e-6)
    assert losses["eager"][-1] < losses["eager"][0]


def test_pytorch_style_training_learns_the_digits():
    """The seed's PyTorch loop: Linear, ReLU, Softmax(dim=1), CrossEntropyLoss, Adam;
    zero_grad, loss, backward, step over mini-batches."""
    x, y = fn.datasets.load_digits()
    x = x / 16.0
    order = np.random.default_rng(0).permutation(len(x))
    train, test = order[:1400], order[1400:]
    model = _mlp(0)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = fn.optim.Adam(model.parameters(), lr=0.01)
    first = None
    for _ in range(8):
        for start in range(0, len(train), 64):
            batch = train[start:start + 64]
            inputs, targets = fn.tensor(x[batch]), fn.tensor(y[batch])
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
            loss.backward()
            optimizer.step()
            first = loss.item() if first is None else first
    with fn.no_grad():
        predicted = fn.max(model(fn.tensor(x[test])), 1)[1]
    accuracy = (predicted == fn.tensor(y[test])).float().mean().item()
    assert loss.item() < first - 0.5
    assert accuracy > 0.9, accuracy


@pytest.mark.parametrize("capture", [True, False])
def test_compile_takes_a_pytorch_loss_module(capture):
    """compile(loss=nn.CrossEntropyLoss()): fit calls it in torch's order (y_pred, y_true),
    the model does not adopt it as a layer, and the captured fit equals the eager one."""
    x, y = fn.datasets.load_digits()
    x = (x / 16.0).astype(np.float32)
    histories = []
    for run_capture in (capture, False):
        model = _mlp(3)
        model.compile(optimizer=fn.optim.Adam(model.parameters(), lr=1e-2),
                      loss=nn.CrossEntropyLoss(), capture=run_capture)
        histories.append(model.fit(x, y, epochs=2, batch_size=64, verbose=0).history["loss"])
        assert not any(isinstance(m, nn.CrossEntropyLoss) for m in model.children())
    assert histories[0] == histories[1]
    assert histories[0][-1] < histories[0][0]
