"""fastnn.nn.init against torch.nn.init: the gain table and the fans equal torch's; each
initialiser fills the tensor in place (same object and memory, no graph, an optimizer made
before sees the values), keeps its shape and dtype, is reproducible under fn.manual_seed,
and draws torch's distribution: bounds, mean and variance within limits derived from the
sample size, and a Kolmogorov-Smirnov test against the exact CDF."""

import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastnn as fn  # noqa: E402
import fastnn.nn as nn  # noqa: E402
from fastnn.nn import init  # noqa: E402

TI = torch.nn.init
N = 40_000  # samples per distribution check
# Every statistical check below fails by chance with probability ~1e-6 or less: means and
# variances within Z standard errors (|N(0,1)| > 5 has probability 6e-7), the KS statistic
# below sqrt(ln(2 / 1e-6) / (2 n)) (P(D_n > t) <= 2 exp(-2 n t^2), Dvoretzky-Kiefer-Wolfowitz).
Z = 5.0


def ks_limit(n, p=1e-6):
    return math.sqrt(math.log(2 / p) / (2 * n))


def param(*shape, dtype="float32"):
    return nn.Parameter(fn.zeros(*shape, dtype=dtype))


def check_distribution(values, cdf, mean, var):
    """values (flattened) against a distribution's CDF (vectorised), mean and variance."""
    x = np.sort(np.asarray(values, dtype=np.float64).reshape(-1))
    n = x.size
    assert abs(x.mean() - mean) <= Z * math.sqrt(var / n), (x.mean(), mean)
    # The sample variance's standard error from the sample's own fourth central moment.
    centred = x - x.mean()
    m4 = np.mean(centred ** 4)
    s2 = np.mean(centred ** 2)
    assert abs(s2 - var) <= Z * math.sqrt(max(m4 - s2 * s2, 0.0) / n) + 1e-12, (s2, var)
    f = cdf(x)
    ecdf_hi, ecdf_lo = np.arange(1, n + 1) / n, np.arange(n) / n
    d = max(np.max(ecdf_hi - f), np.max(f - ecdf_lo))
    assert d <= ks_limit(n), (d, ks_limit(n))


def normal_cdf(mean, std):
    return lambda x: torch.special.ndtr(torch.tensor((x - mean) / std)).numpy()


def uniform_cdf(a, b):
    return lambda x: np.clip((x - a) / (b - a), 0.0, 1.0)


# --- gains and fans ---------------------------------------------------------------------------

@pytest.mark.parametrize("nonlinearity", ["linear", "conv1d", "conv2d", "conv3d",
                                          "conv_transpose1d", "conv_transpose2d",
                                          "conv_transpose3d", "sigmoid", "tanh", "relu",
                                          "leaky_relu", "selu"])
def test_calculate_gain_matches_torch(nonlinearity):
    assert init.calculate_gain(nonlinearity) == TI.calculate_gain(nonlinearity)
    if nonlinearity == "leaky_relu":
        for slope in (0, 0.2, 1, math.sqrt(5), -0.3):
            assert init.calculate_gain(nonlinearity, slope) == \
                TI.calculate_gain(nonlinearity, slope)


def test_calculate_gain_errors_match_torch():
    for args in (("softmax",), ("leaky_relu", "0.1"), ("leaky_relu", True)):
        with pytest.raises(ValueError) as theirs:
            TI.calculate_gain(*args)
        with pytest.raises(ValueError) as mine:
            init.calculate_gain(*args)
        assert str(mine.value) == str(theirs.value)


@pytest.mark.parametrize("shape", [(3, 5), (7, 1), (4, 3, 5), (6, 2, 3, 3), (2, 3, 4, 5, 6)],
                         ids=str)
def test_fans_match_torch(shape):
    assert init._calculate_fan_in_and_fan_out(param(*shape)) == \
        TI._calculate_fan_in_and_fan_out(torch.empty(shape))


def test_fans_need_two_dimensions():
    for shape in ((5,), ()):
        with pytest.raises(ValueError, match="fewer than 2 dimensions"):
            init._calculate_fan_in_and_fan_out(param(*shape))
        with pytest.raises(ValueError, match="fewer than 2 dimensions"):
            init.xavier_uniform_(param(*shape))
        with pytest.raises(ValueError, match="fewer than 2 dimensions"):
            init.kaiming_normal_(param(*shape))


# --- distributions ----------------------------------------------------------------------------

def test_uniform_distribution():
    a, b = -0.7, 2.3
    t = init.uniform_(param(200, 200), a, b)
    x = t.numpy()
    assert x.min() >= a and x.max() <= b
    check_distribution(x, uniform_cdf(a, b), (a + b) / 2, (b - a) ** 2 / 12)
    check_distribution(init.uniform_(param(N)).numpy(), uniform_cdf(0, 1), 0.5, 1 / 12)


def test_normal_distribution():
    t = init.normal_(param(N, dtype="float64"), mean=1.5, std=0.3)
    check_distribution(t.numpy(), normal_cdf(1.5, 0.3), 1.5, 0.09)
    check_distribution(init.normal_(param(200, 200)).numpy(), normal_cdf(0, 1), 0.0, 1.0)


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.5, 2.0, -1.0, 3.0),
                                          (0.0, 0.02, -0.04, 0.04), (1.0, 1.0, 1.5, 2.0)])
def test_trunc_normal_distribution(mean, std, a, b):
    """The exact truncated normal: its CDF, mean and variance from the normal's."""
    t = init.trunc_normal_(param(N, dtype="float64"), mean, std, a, b)
    x = t.numpy()
    assert x.min() >= a and x.max() <= b
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    mass = cdf(beta) - cdf(alpha)
    shift = (pdf(alpha) - pdf(beta)) / mass
    var = std ** 2 * (1 + (alpha * pdf(alpha) - beta * pdf(beta)) / mass - shift ** 2)
    normal = normal_cdf(mean, std)
    check_distribution(x, lambda v: (normal(v) - cdf(alpha)) / mass, mean + std * shift, var)


def test_trunc_normal_warns_like_torch_when_the_mean_is_far():
    with pytest.warns(UserWarning, match="more than 2 std"):
        init.trunc_normal_(param(10), mean=5.0, std=1.0, a=-1.0, b=1.0)


@pytest.mark.parametrize("shape", [(300, 150), (40, 20, 3, 3)], ids=str)
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier_distributions(shape, gain):
    fan_in, fan_out = TI._calculate_fan_in_and_fan_out(torch.empty(shape))
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    x = init.xavier_uniform_(param(*shape), gain=gain).numpy()
    assert np.abs(x).max() <= bound * (1 + 1e-6)
    check_distribution(x, uniform_cdf(-bound, bound), 0.0, bound ** 2 / 3)
    x = init.xavier_normal_(param(*shape), gain=gain).numpy()
    check_distribution(x, normal_cdf(0.0, std), 0.0, std ** 2)


@pytest.mark.parametrize("a,mode,nonlinearity", [(0, "fan_in", "leaky_relu"),
                                                 (math.sqrt(5), "fan_in", "leaky_relu"),
                                                 (0, "fan_out", "relu"), (0, "FAN_IN", "tanh"),
                                                 (0.1, "fan_out", "selu")])
@pytest.mark.parametrize("shape", [(300, 150), (40, 20, 3, 3)], ids=str)
def test_kaiming_distributions(shape, a, mode, nonlinearity):
    fan_in, fan_out = TI._calculate_fan_in_and_fan_out(torch.empty(shape))
    fan = fan_in if mode.lower() == "fan_in" else fan_out
    std = TI.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    x = init.kaiming_uniform_(param(*shape), a=a, mode=mode, nonlinearity=nonlinearity).numpy()
    assert np.abs(x).max() <= bound * (1 + 1e-6)
    check_distribution(x, uniform_cdf(-bound, bound), 0.0, bound ** 2 / 3)
    x = init.kaiming_normal_(param(*shape), a=a, mode=mode, nonlinearity=nonlinearity).numpy()
    check_distribution(x, normal_cdf(0.0, std), 0.0, std ** 2)


def test_kaiming_uniform_sqrt5_is_what_linear_draws():
    """torch's Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)); after the same seed
    fastnn's gives nn.Linear's very weights."""
    fn.manual_seed(7)
    linear = nn.Linear(9, 4)
    fn.manual_seed(7)
    w = init.kaiming_uniform_(param(4, 9), a=math.sqrt(5))
    np.testing.assert_allclose(w.numpy(), linear.weight.numpy(), rtol=1e-6)


@pytest.mark.parametrize("shape", [(7, 3), (3, 7), (5, 5), (4, 2, 3), (2, 3, 2, 2)], ids=str)
@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_orthogonal(shape, gain):
    """(shape[0], rest) flattened is (semi-)orthogonal times gain, as torch's."""
    t = init.orthogonal_(param(*shape, dtype="float64"), gain=gain)
    q = t.numpy().reshape(shape[0], -1)
    rows, cols = q.shape
    gram = q.T @ q if rows >= cols else q @ q.T
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(min(rows, cols)), atol=1e-12)
    theirs = TI.orthogonal_(torch.empty(shape, dtype=torch.float64), gain=gain)
    assert tuple(theirs.shape) == tuple(t.shape)


def test_orthogonal_draws_a_uniform_rotation():
    """Q's entries are those of a Haar-random orthogonal matrix: over many draws the
    (0, 0) entry of a 3x3 one has mean 0 and variance 1/3."""
    fn.manual_seed(1)
    first = np.array([init.orthogonal_(param(3, 3, dtype="float64")).numpy()[0, 0]
                      for _ in range(600)])
    assert abs(first.mean()) <= Z * math.sqrt(1 / 3 / first.size)
    # E[q^4] = 1/5 for one coordinate of a uniform unit vector in R^3: Var(q^2) = 1/5 - 1/9.
    assert abs(np.mean(first ** 2) - 1 / 3) <= Z * math.sqrt((1 / 5 - 1 / 9) / first.size)


def test_constant_ones_zeros_eye():
    t = param(3, 4)
    assert init.constant_(t, 2.5) is t
    np.testing.assert_array_equal(t.numpy(), np.full((3, 4), 2.5))
    np.testing.assert_array_equal(init.ones_(t).numpy(), np.ones((3, 4)))
    np.testing.assert_array_equal(init.zeros_(t).numpy(), np.zeros((3, 4)))
    for shape in ((3, 4), (4, 3), (3, 3)):
        e = init.eye_(param(*shape))
        np.testing.assert_array_equal(e.numpy(), TI.eye_(torch.empty(shape)).numpy())
    with pytest.raises(ValueError, match="2 dimensions"):
        init.eye_(param(2, 3, 4))


# --- in place, reproducible -------------------------------------------------------------------

FILLERS = [
    ("uniform_", lambda t: init.uniform_(t, -1, 1)), ("normal_", init.normal_),
    ("trunc_normal_", init.trunc_normal_), ("xavier_uniform_", init.xavier_uniform_),
    ("xavier_normal_", init.xavier_normal_), ("kaiming_uniform_", init.kaiming_uniform_),
    ("kaiming_normal_", lambda t: init.kaiming_normal_(t, mode="fan_out",
                                                       nonlinearity="relu")),
    ("orthogonal_", init.orthogonal_), ("eye_", init.eye_), ("ones_", init.ones_),
    ("constant_", lambda t: init.constant_(t, -3.0)),
]


@pytest.mark.parametrize("case", FILLERS, ids=[c[0] for c in FILLERS])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fills_in_place_without_recording(case, dtype):
    """Same object and memory, same shape and dtype, still a leaf that requires grad (no
    graph recorded, as torch's no_grad), while gradients are on."""
    name, fill = case
    linear = nn.Linear(5, 4, dtype=dtype)
    w = linear.weight
    memory = np.asarray(w)
    before = memory.copy()
    assert fill(w) is w
    assert w.dtype == dtype and tuple(w.shape) == (4, 5)
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    assert np.shares_memory(memory, np.asarray(w))
    assert not np.array_equal(memory, before)
    np.testing.assert_array_equal(linear.state_dict()["weight"], memory)


def test_fills_a_selection_of_a_parameter_like_torch():
    """A row, a column or a slice of a weight: the parameter's elements there change."""
    linear = nn.Linear(3, 4)
    before = linear.weight.numpy().copy()
    init.constant_(linear.weight[0], 3.0)
    init.zeros_(linear.weight[:, 2])
    init.ones_(linear.bias[1:3])
    expected = before.copy()
    expected[0] = 3.0
    expected[:, 2] = 0.0
    np.testing.assert_array_equal(linear.weight.numpy(), expected)
    np.testing.assert_array_equal(linear.bias.numpy()[1:3], [1.0, 1.0])


def test_an_optimizer_made_before_sees_the_new_values():
    linear = nn.Linear(3, 2)
    optimizer = fn.optim.Adam(linear.parameters(), lr=0.1)
    init.constant_(linear.weight, 5.0)
    init.zeros_(linear.bias)
    linear(fn.ones(1, 3)).sum().backward()
    optimizer.step()
    # Adam's first step moves each weight by lr * sign(grad): from the new values.
    np.testing.assert_allclose(linear.weight.numpy(), np.full((2, 3), 4.9), rtol=1e-5)
    np.testing.assert_allclose(linear.bias.numpy(), np.full(2, -0.1), rtol=1e-5)


@pytest.mark.parametrize("case", [c for c in FILLERS if c[0] not in ("eye_", "ones_",
                                                                    "constant_")],
                         ids=lambda c: c[0])
def test_reproducible_under_manual_seed(case):
    _, fill = case
    draws = []
    for seed in (3, 3, 4):
        fn.manual_seed(seed)
        draws.append(fill(param(6, 5)).numpy().copy())
    np.testing.assert_array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[0], draws[2])


def test_zero_element_tensors():
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(param(0, 3))
    assert init.orthogonal_(param(0, 3)).numel() == 0
    assert init.xavier_uniform_(param(2, 0)).numel() == 0


def test_deprecated_names_warn_like_torch():
    with pytest.warns(FutureWarning, match="xavier_uniform_"):
        init.xavier_uniform(param(3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert init.constant(param(2), 1.0).numpy().tolist() == [1.0, 1.0]


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(TypeError, match="fastnn tensor"):
        init.normal_(np.zeros(3))
    with pytest.raises(TypeError, match="float32 or float64"):
        init.uniform_(fn.zeros(3, dtype="int64"))
    with pytest.raises(NotImplementedError, match="generator"):
        init.normal_(param(3), generator=object())
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(param(3, 4), mode="fan_avg")
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.kaiming_normal_(param(3, 4), nonlinearity="softmax")
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(param(4))
    with pytest.raises(ValueError, match="a <= b"):
        init.uniform_(param(3), 1.0, 0.0)
    with pytest.raises(ValueError, match="a < b"):
        init.trunc_normal_(param(3), a=1.0, b=1.0)
    with pytest.raises(ValueError, match="std >= 0"):
        init.normal_(param(3), std=-1.0)
