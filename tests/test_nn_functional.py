"""fastnn.nn's activation modules and their functional forms (F.relu, F.softmax, ...)
against PyTorch in float64 on fresh random inputs of odd shapes: values and input gradients,
every option (slopes, alpha, beta/threshold, approximate, dim incl. torch's implicit dim),
inplace=True with autograd, and the errors."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastnn as fn  # noqa: E402
import fastnn.nn as nn  # noqa: E402
import fastnn.nn.functional as F  # noqa: E402

TF = torch.nn.functional
RTOL, ATOL = 1e-10, 1e-12
SHAPES = [(7,), (3, 5), (2, 3, 4), (2, 3, 1, 5)]


def pair(a):
    """The same float64 values as a fastnn and a torch tensor, both requiring grad."""
    x = fn.from_numpy(np.array(a, dtype=np.float64))
    x.requires_grad = True
    return x, torch.tensor(a, dtype=torch.float64, requires_grad=True)


def compare(rng, mine, theirs, a):
    """mine(x) and theirs(tx) on the same values: outputs and the input gradient of a
    random weighted sum of the outputs."""
    x, tx = pair(a)
    y, ty = mine(x), theirs(tx)
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=RTOL, atol=ATOL)
    g = rng.standard_normal(tuple(ty.shape))
    (y * fn.from_numpy(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=RTOL, atol=ATOL)


def inputs(rng, shape, scale=3.0):
    """Values on both sides of 0 and of the kinks (0, +-1, 6, the softplus threshold),
    none within 1e-3 of one, so the finite comparison sees each side's derivative."""
    a = rng.standard_normal(shape) * scale
    for kink in (0.0, 1.0, -1.0, 6.0):
        near = np.abs(a - kink) < 1e-3
        a[near] += 2e-3
    return a


# (name, fastnn module, torch module, fastnn function, torch function)
ACTIVATIONS = [
    ("relu", nn.ReLU(), torch.nn.ReLU(), F.relu, TF.relu),
    ("relu6", nn.ReLU6(), torch.nn.ReLU6(), F.relu6, TF.relu6),
    ("leaky", nn.LeakyReLU(), torch.nn.LeakyReLU(), F.leaky_relu, TF.leaky_relu),
    ("leaky0.3", nn.LeakyReLU(0.3), torch.nn.LeakyReLU(0.3),
     lambda x: F.leaky_relu(x, 0.3), lambda x: TF.leaky_relu(x, 0.3)),
    ("leaky-neg", nn.LeakyReLU(-0.2), torch.nn.LeakyReLU(-0.2),
     lambda x: F.leaky_relu(x, negative_slope=-0.2),
     lambda x: TF.leaky_relu(x, negative_slope=-0.2)),
    ("elu", nn.ELU(), torch.nn.ELU(), F.elu, TF.elu),
    ("elu0.7", nn.ELU(alpha=0.7), torch.nn.ELU(alpha=0.7),
     lambda x: F.elu(x, 0.7), lambda x: TF.elu(x, 0.7)),
    ("selu", nn.SELU(), torch.nn.SELU(), F.selu, TF.selu),
    ("gelu", nn.GELU(), torch.nn.GELU(), F.gelu, TF.gelu),
    ("gelu-tanh", nn.GELU("tanh"), torch.nn.GELU("tanh"),
     lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    ("silu", nn.SiLU(), torch.nn.SiLU(), F.silu, TF.silu),
    ("mish", nn.Mish(), torch.nn.Mish(), F.mish, TF.mish),
    ("sigmoid", nn.Sigmoid(), torch.nn.Sigmoid(), F.sigmoid, torch.sigmoid),
    ("tanh", nn.Tanh(), torch.nn.Tanh(), F.tanh, torch.tanh),
    ("softplus", nn.Softplus(), torch.nn.Softplus(), F.softplus, TF.softplus),
    ("softplus-beta", nn.Softplus(beta=2.5, threshold=4.0),
     torch.nn.Softplus(beta=2.5, threshold=4.0),
     lambda x: F.softplus(x, beta=0.5, threshold=1.5),
     lambda x: TF.softplus(x, beta=0.5, threshold=1.5)),
    ("hardtanh", nn.Hardtanh(), torch.nn.Hardtanh(), F.hardtanh, TF.hardtanh),
    ("hardtanh-range", nn.Hardtanh(-2.0, 0.5), torch.nn.Hardtanh(-2.0, 0.5),
     lambda x: F.hardtanh(x, -0.5, 3.0), lambda x: TF.hardtanh(x, -0.5, 3.0)),
    ("softmax1", nn.Softmax(dim=1), torch.nn.Softmax(dim=1),
     lambda x: F.softmax(x, -1), lambda x: TF.softmax(x, -1)),
    ("softmax0", nn.Softmax(dim=0), torch.nn.Softmax(dim=0),
     lambda x: F.softmax(x, dim=0), lambda x: TF.softmax(x, dim=0)),
    ("log_softmax", nn.LogSoftmax(dim=1), torch.nn.LogSoftmax(dim=1),
     lambda x: F.log_softmax(x, 0), lambda x: TF.log_softmax(x, 0)),
    ("softmin", nn.Softmin(dim=-1), torch.nn.Softmin(dim=-1),
     lambda x: F.softmin(x, 1), lambda x: TF.softmin(x, 1)),
]


@pytest.mark.parametrize("case", ACTIVATIONS, ids=[c[0] for c in ACTIVATIONS])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_activation_matches_torch(case, shape):
    name, mine, theirs, f_mine, f_theirs = case
    if "softmax" in name or "softmin" in name:
        if len(shape) < 2:
            shape = (5, 3)
    rng = np.random.default_rng(abs(hash((name, shape))) % 2 ** 32)
    a = inputs(rng, shape)
    compare(rng, mine, theirs, a)
    compare(rng, f_mine, f_theirs, inputs(rng, shape))


def test_values_at_the_kinks_match_torch():
    """Exactly at 0, +-1, 6, and beyond softplus's threshold: torch's one-sided choices."""
    rng = np.random.default_rng(5)
    a = np.array([-7.0, -6.0, -1.0, -0.5, 0.0, 0.5, 1.0, 6.0, 7.0, 25.0, -25.0])
    for f_mine, f_theirs in [(F.relu, TF.relu), (F.relu6, TF.relu6), (F.hardtanh, TF.hardtanh),
                             (F.leaky_relu, TF.leaky_relu), (F.elu, TF.elu), (F.selu, TF.selu),
                             (F.softplus, TF.softplus), (F.silu, TF.silu)]:
        compare(rng, f_mine, f_theirs, a)


def test_large_inputs_stay_finite():
    """Softplus, ELU, Mish and GELU-tanh far out in both directions: torch's values and
    finite gradients (the unused branch must not overflow into NaN)."""
    rng = np.random.default_rng(6)
    a = np.array([-800.0, -60.0, -15.0, 15.0, 60.0, 700.0])
    for f_mine, f_theirs in [(F.softplus, TF.softplus), (F.elu, TF.elu), (F.mish, TF.mish),
                             (lambda x: F.gelu(x, approximate="tanh"),
                              lambda x: TF.gelu(x, approximate="tanh")),
                             (lambda x: F.softplus(x, 0.1, 50.0),
                              lambda x: TF.softplus(x, 0.1, 50.0))]:
        compare(rng, f_mine, f_theirs, a)


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4), (2, 3, 4, 5)], ids=str)
@pytest.mark.parametrize("kind", ["softmax", "log_softmax", "softmin"])
def test_implicit_softmax_dim_matches_torch(kind, shape):
    """dim=None: torch's deprecated choice (0 for 0-, 1- and 3-d input, else 1), with its
    warning, for the functions and the modules."""
    rng = np.random.default_rng(len(shape))
    a = rng.standard_normal(shape)
    module = {"softmax": nn.Softmax, "log_softmax": nn.LogSoftmax, "softmin": nn.Softmin}[kind]
    theirs = {"softmax": torch.nn.Softmax, "log_softmax": torch.nn.LogSoftmax,
              "softmin": torch.nn.Softmin}[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compare(rng, module(), theirs(), a)
        compare(rng, getattr(F, kind), getattr(TF, kind), a)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        getattr(F, kind)(fn.from_numpy(a))


def test_softmax_dtype_casts_first():
    a = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    y = F.softmax(fn.from_numpy(a), dim=1, dtype=fn.float64)
    assert y.dtype == "float64"
    np.testing.assert_allclose(y.numpy(), TF.softmax(torch.tensor(a), 1, dtype=torch.float64),
                               rtol=1e-12)


@pytest.mark.parametrize("p,dim,shape", [(2.0, 1, (4, 5)), (1, 0, (3, 6)), (3.0, -1, (2, 3, 4)),
                                         (float("inf"), 1, (2, 5, 3)), (2, 2, (2, 3, 4))])
def test_normalize_matches_torch(p, dim, shape):
    rng = np.random.default_rng(int(dim) + len(shape))
    compare(rng, lambda x: F.normalize(x, p=p, dim=dim), lambda x: TF.normalize(x, p=p, dim=dim),
            rng.standard_normal(shape))


def test_normalize_zero_rows_have_zero_gradient_like_torch():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((4, 3))
    a[1] = 0.0
    compare(rng, F.normalize, TF.normalize, a)


def test_float32_fused_activations_match_torch():
    """The fused kernels in float32 (what models run), against torch in float64 on the same
    float32 values: within float32 rounding (torch's own float32 GELU is off by up to 1e-6)."""
    a = np.random.default_rng(3).standard_normal((33, 7)).astype(np.float32)
    for f_mine, f_theirs in [(F.relu, TF.relu), (F.sigmoid, torch.sigmoid), (F.tanh, torch.tanh),
                             (F.gelu, TF.gelu), (lambda x: F.softmax(x, 1),
                                                 lambda x: TF.softmax(x, 1))]:
        y = f_mine(fn.from_numpy(a))
        assert y.dtype == "float32"
        np.testing.assert_allclose(y.numpy(), f_theirs(torch.tensor(a, dtype=torch.float64)),
                                   rtol=1e-6, atol=1e-7)


INPLACE = [
    (nn.ReLU, torch.nn.ReLU, F.relu, TF.relu),
    (nn.ReLU6, torch.nn.ReLU6, F.relu6, TF.relu6),
    (nn.LeakyReLU, torch.nn.LeakyReLU, F.leaky_relu, TF.leaky_relu),
    (nn.ELU, torch.nn.ELU, F.elu, TF.elu),
    (nn.SELU, torch.nn.SELU, F.selu, TF.selu),
    (nn.SiLU, torch.nn.SiLU, F.silu, TF.silu),
    (nn.Mish, torch.nn.Mish, F.mish, TF.mish),
    (nn.Hardtanh, torch.nn.Hardtanh, F.hardtanh, TF.hardtanh),
]


@pytest.mark.parametrize("case", INPLACE, ids=[c[0].__name__ for c in INPLACE])
def test_inplace_writes_the_input_with_torch_autograd(case):
    """inplace=True on an intermediate tensor: the input holds the result (same object),
    and the gradient reaching the leaf is torch's."""
    mine_cls, theirs_cls, f_mine, f_theirs = case
    rng = np.random.default_rng(len(mine_cls.__name__))
    a = inputs(rng, (4, 5))
    g = rng.standard_normal((4, 5))
    x, tx = pair(a)
    for mine, theirs in [(mine_cls(inplace=True), theirs_cls(inplace=True)),
                         (lambda t: f_mine(t, inplace=True), lambda t: f_theirs(t, inplace=True))]:
        x.grad, tx.grad = None, None
        h, th = x * 1.5, tx * 1.5
        y, ty = mine(h), theirs(th)
        assert y is h
        np.testing.assert_allclose(h.detach().numpy(), th.detach().numpy(), rtol=RTOL,
                                   atol=ATOL)
        (h * fn.from_numpy(g)).sum().backward()
        (th * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_inplace_on_a_leaf_that_requires_grad_raises_like_torch():
    x, tx = pair(np.ones((2, 3)))
    with pytest.raises(RuntimeError):
        torch.nn.ReLU(inplace=True)(tx)
    with pytest.raises(RuntimeError, match="leaf"):
        nn.ReLU(inplace=True)(x)
    with fn.no_grad():  # allowed without recording, as torch's
        a = fn.from_numpy(np.array([-1.0, 2.0]))
        assert F.relu(a, inplace=True) is a
        np.testing.assert_array_equal(a.numpy(), [0.0, 2.0])


def test_modules_repr_and_attributes_match_torch():
    for mine, theirs in [(nn.ReLU(), torch.nn.ReLU()), (nn.ReLU(inplace=True),
                                                        torch.nn.ReLU(inplace=True)),
                         (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
                         (nn.ELU(alpha=0.5, inplace=True), torch.nn.ELU(alpha=0.5, inplace=True)),
                         (nn.GELU("tanh"), torch.nn.GELU("tanh")), (nn.Softmax(dim=1),
                                                                    torch.nn.Softmax(dim=1)),
                         (nn.LogSoftmax(), torch.nn.LogSoftmax()),
                         (nn.Softplus(2.0, 10.0), torch.nn.Softplus(2.0, 10.0)),
                         (nn.Hardtanh(-2.0, 3.0), torch.nn.Hardtanh(-2.0, 3.0)),
                         (nn.Sigmoid(), torch.nn.Sigmoid()), (nn.SiLU(), torch.nn.SiLU())]:
        assert repr(mine) == repr(theirs)
    assert nn.Softmax(dim=1).dim == 1 and nn.LeakyReLU().negative_slope == 0.01
    assert nn.ReLU().state_dict() == {} and nn.Softmax(1).parameters() == []


def test_activation_module_in_a_sequential_trains():
    model = nn.Sequential(nn.Linear(4, 8), nn.ELU(), nn.Linear(8, 3), nn.LogSoftmax(dim=1)).double()
    x = fn.from_numpy(np.random.default_rng(0).standard_normal((5, 4)))
    out = model(x)
    assert tuple(out.shape) == (5, 3)
    np.testing.assert_allclose(np.exp(out.detach().numpy()).sum(1), 1.0, rtol=1e-12)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_arrays_are_accepted_and_float32():
    y = F.relu([[-1.0, 2.0]])
    assert y.dtype == "float32"
    np.testing.assert_array_equal(y.numpy(), [[0.0, 2.0]])
    assert nn.Tanh()(np.zeros((2, 2), np.float32)).dtype == "float32"


def test_bad_arguments_raise_clear_errors():
    x = fn.from_numpy(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(x, approximate="erf")
    with pytest.raises(ValueError, match="min_val < max_val"):
        nn.Hardtanh(1.0, -1.0)
    with pytest.raises(ValueError, match="min_val < max_val"):
        F.hardtanh(x, 2.0, 2.0)
    with pytest.raises(TypeError, match="negative_slope"):
        nn.LeakyReLU("0.1")
    with pytest.raises(TypeError, match="dim"):
        nn.Softmax(dim=1.5)
    with pytest.raises(IndexError, match="out of range"):
        F.softmax(x, dim=2)
    with pytest.raises(TypeError, match="inplace=True needs a fastnn tensor"):
        F.relu(np.zeros(3), inplace=True)
    with pytest.raises(TypeError, match="relu: expected input"):
        F.relu("abc")
    with pytest.raises(ValueError, match="beta"):
        nn.Softplus(beta=0)
    with pytest.raises(NotImplementedError, match="out="):
        F.normalize(x, out=x)
