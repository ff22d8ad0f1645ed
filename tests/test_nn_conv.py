"""fastnn.nn's Conv1d/Conv2d and F.conv1d/F.conv2d against PyTorch (float64: values and
the gradients of input, weight and bias), their arguments and errors, and a PyTorch-style
CNN (conv, pool, batch norm, adaptive pool, linear) against the same network in torch:
loss, gradients, SGD steps, and compile/fit with a captured step."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastnn as fn  # noqa: E402
import fastnn.nn as nn  # noqa: E402
import fastnn.nn.functional as F  # noqa: E402
from fastnn.nn.conv import to_channels_first, to_channels_last  # noqa: E402

TF = torch.nn.functional
# torch warns that its own 'same' with an even kernel copies the input; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")
RTOL, ATOL = 1e-10, 1e-12


def pair(rng, shape):
    """The same float64 values as a fastnn and a torch tensor, both requiring grad."""
    a = rng.standard_normal(shape)
    x = fn.from_numpy(a.copy())
    x.requires_grad = True
    return x, torch.tensor(a, requires_grad=True)


def backward_both(rng, y, ty):
    """Backpropagates the same random output gradient through both outputs."""
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=RTOL, atol=ATOL)
    g = rng.standard_normal(tuple(ty.shape))
    (y * fn.from_numpy(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), b.detach().numpy(), rtol=RTOL, atol=ATOL)


CONV2D_CASES = [
    # in, out, kernel, stride, padding, dilation, bias, input (N, C, H, W)
    (3, 5, 3, 1, 0, 1, True, (2, 3, 7, 9)),
    (1, 4, (3, 2), (2, 1), (1, 2), (1, 2), True, (3, 1, 8, 7)),
    (2, 3, 4, 1, "same", 1, False, (1, 2, 6, 5)),     # even kernel: the odd pixel after
    (4, 2, (2, 3), 1, "same", (2, 3), True, (2, 4, 7, 11)),
    (3, 6, 3, 3, "valid", 1, True, (2, 3, 10, 8)),
    (2, 2, 1, 2, 2, 1, True, (1, 2, 5, 5)),
]


@pytest.mark.parametrize("case", CONV2D_CASES)
def test_conv2d_matches_torch(case):
    cin, cout, k, s, p, d, bias, shape = case
    rng = np.random.default_rng(len(shape) + cin * 7 + cout)
    theirs = torch.nn.Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, bias=bias,
                             dtype=torch.float64)
    mine = nn.Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, bias=bias,
                     dtype=torch.float64)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert repr(mine) == repr(theirs)
    mine.load_state_dict(theirs.state_dict())
    x, tx = pair(rng, shape)
    backward_both(rng, mine(x), theirs(tx))
    close(x.grad, tx.grad)
    close(mine.weight.grad, theirs.weight.grad)
    if bias:
        close(mine.bias.grad, theirs.bias.grad)


CONV1D_CASES = [
    (3, 4, 3, 1, 0, 1, True, (2, 3, 9)),
    (2, 5, 4, 2, 3, 2, True, (3, 2, 11)),
    (1, 2, 2, 1, "same", 3, False, (2, 1, 6)),
    (4, 3, 5, 1, "same", 1, True, (1, 4, 5)),
]


@pytest.mark.parametrize("case", CONV1D_CASES)
def test_conv1d_matches_torch(case):
    cin, cout, k, s, p, d, bias, shape = case
    rng = np.random.default_rng(cin * 5 + cout)
    theirs = torch.nn.Conv1d(cin, cout, k, stride=s, padding=p, dilation=d, bias=bias).double()
    mine = nn.Conv1d(cin, cout, k, stride=s, padding=p, dilation=d, bias=bias).double()
    assert repr(mine) == repr(theirs)
    mine.load_state_dict(theirs.state_dict())
    x, tx = pair(rng, shape)
    backward_both(rng, mine(x), theirs(tx))
    close(x.grad, tx.grad)
    close(mine.weight.grad, theirs.weight.grad)
    if bias:
        close(mine.bias.grad, theirs.bias.grad)


@pytest.mark.parametrize("spatial", [(6, 5), (7,)])
def test_unbatched_input_gives_an_unbatched_output(spatial):
    rng = np.random.default_rng(1)
    cls = "Conv2d" if len(spatial) == 2 else "Conv1d"
    theirs = getattr(torch.nn, cls)(3, 2, 3, padding=1).double()
    mine = getattr(nn, cls)(3, 2, 3, padding=1).double()
    mine.load_state_dict(theirs.state_dict())
    x, tx = pair(rng, (3, *spatial))
    backward_both(rng, mine(x), theirs(tx))
    close(x.grad, tx.grad)
    close(mine.weight.grad, theirs.weight.grad)


@pytest.mark.parametrize("name, shape, wshape, kwargs", [
    ("conv2d", (2, 3, 8, 7), (4, 3, 3, 2), dict(stride=(2, 1), padding=(1, 0), dilation=1)),
    ("conv2d", (1, 2, 6, 6), (3, 2, 2, 4), dict(padding="same", dilation=(2, 1))),
    ("conv2d", (2, 1, 5, 4), (2, 1, 5, 4), dict()),                 # kernel = input
    ("conv1d", (2, 3, 10), (5, 3, 3), dict(stride=3, padding=2, dilation=2)),
    ("conv1d", (3, 2, 7), (2, 2, 4), dict(padding="same")),
])
@pytest.mark.parametrize("with_bias", [True, False])
def test_functional_conv_matches_torch(name, shape, wshape, kwargs, with_bias):
    rng = np.random.default_rng(sum(shape) + sum(wshape))
    x, tx = pair(rng, shape)
    w, tw = pair(rng, wshape)
    b, tb = pair(rng, (wshape[0],)) if with_bias else (None, None)
    backward_both(rng, getattr(F, name)(x, w, b, **kwargs), getattr(TF, name)(tx, tw, tb, **kwargs))
    close(x.grad, tx.grad)
    close(w.grad, tw.grad)
    if with_bias:
        close(b.grad, tb.grad)


def test_initialisation_is_torchs_uniform_bound():
    """weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in * kh * kw; the
    default dtype float32 as PyTorch's."""
    fn.manual_seed(0)
    conv = nn.Conv2d(6, 64, (3, 2))
    bound = 1 / np.sqrt(6 * 3 * 2)
    w, b = np.asarray(conv.weight), np.asarray(conv.bias)
    assert w.shape == (64, 6, 3, 2) and b.shape == (64,) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.05 * bound  # uniform's std
    assert abs(w.mean()) < 0.05 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.8 * bound
    conv1 = nn.Conv1d(5, 300, 4, bias=False)
    w1 = np.asarray(conv1.weight)
    assert conv1.bias is None and list(conv1.state_dict()) == ["weight"]
    assert np.abs(w1).max() <= 1 / np.sqrt(20) and np.abs(w1).max() > 0.98 / np.sqrt(20)


def test_layout_helpers_are_inverse_permutes():
    rng = np.random.default_rng(2)
    for shape in [(2, 3, 4, 5), (2, 1, 4, 5), (2, 3, 1, 1), (3, 4, 6), (2, 3)]:
        a = rng.standard_normal(shape)
        cl = to_channels_last(fn.from_numpy(a))
        np.testing.assert_array_equal(cl.numpy(), np.moveaxis(a, 1, -1))
        np.testing.assert_array_equal(to_channels_first(cl).numpy(), a)


@pytest.mark.parametrize("make, error, words", [
    (lambda: nn.Conv2d(4, 4, 3, groups=2), NotImplementedError, "groups"),
    (lambda: nn.Conv2d(3, 4, 3, padding_mode="reflect"), NotImplementedError, "padding_mode"),
    (lambda: nn.Conv2d(3, 4, 3, padding_mode="mirror"), ValueError, "padding_mode"),
    (lambda: nn.Conv2d(3, 4, 3, stride=2, padding="same"), ValueError, "strided"),
    (lambda: nn.Conv1d(3, 4, 3, padding="full"), ValueError, "padding"),
    (lambda: nn.Conv2d(3, 4, 0), ValueError, "kernel_size"),
    (lambda: nn.Conv2d(3, 4, (3, 3, 3)), ValueError, "kernel_size"),
    (lambda: nn.Conv2d(0, 4, 3), ValueError, "in_channels"),
    (lambda: nn.Conv2d(3, 4, 3, padding=-1), ValueError, "padding"),
    (lambda: nn.Conv2d(3, 4, 3, dtype=torch.int64), TypeError, "dtype"),
])
def test_bad_arguments_raise_clear_errors(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_bad_inputs_raise_clear_errors():
    conv = nn.Conv2d(3, 4, 3).double()
    with pytest.raises(ValueError, match=r"Conv2d.*3 channels.*\(2, 5, 6, 6\)"):
        conv(np.zeros((2, 5, 6, 6)))
    with pytest.raises(ValueError, match=r"Conv2d.*3D \(unbatched\) or 4D"):
        conv(np.zeros((1, 2, 3, 6, 6)))
    with pytest.raises(ValueError, match=r"Conv2d.*smaller than the dilated kernel"):
        conv(np.zeros((1, 3, 2, 6)))
    with pytest.raises(TypeError, match=r"Conv2d.*dtype.*float32"):
        conv(fn.zeros(1, 3, 6, 6))
    with pytest.raises(NotImplementedError, match="groups"):
        F.conv2d(fn.zeros(1, 4, 5, 5), fn.zeros(2, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"conv1d.*3D weight"):
        F.conv1d(fn.zeros(1, 4, 5), fn.zeros(2, 4))


# --- a small PyTorch-style CNN ------------------------------------------------------------


def make_cnn(lib, dtype):
    t = lib.nn

    class Net(t.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = t.Conv2d(2, 4, 3, padding=1, dtype=dtype)
            self.pool = t.MaxPool2d(2)
            self.conv2 = t.Conv2d(4, 5, 3, padding="same", dtype=dtype)
            self.bn = t.BatchNorm2d(5, dtype=dtype)
            self.gap = t.AdaptiveAvgPool2d((1, 1))
            self.flatten = t.Flatten()
            self.fc = t.Linear(5, 3, dtype=dtype)

        def forward(self, x):
            x = self.pool(lib.relu(self.conv1(x)))
            x = lib.relu(self.bn(self.conv2(x)))
            return self.fc(self.flatten(self.gap(x)))

    return Net()


def torch_copy_of(mine):
    theirs = make_cnn(torch, torch.float64)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in mine.state_dict().items()})
    return theirs


def test_cnn_loss_and_gradients_match_torch():
    fn.manual_seed(4)
    rng = np.random.default_rng(4)
    mine = make_cnn(fn, fn.float64)
    theirs = torch_copy_of(mine)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert [k for k, _ in mine.named_parameters()] == [k for k, _ in theirs.named_parameters()]
    x = rng.standard_normal((4, 2, 9, 7))
    y = rng.integers(0, 3, 4)
    loss = fn.losses.SparseCategoricalCrossentropy(from_logits=True)(mine(fn.from_numpy(x)), y)
    tloss = TF.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
    loss.backward()
    tloss.backward()
    assert abs(loss.item() - tloss.item()) < 1e-12
    for (key, p), (_, tp) in zip(mine.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(np.asarray(p.grad), tp.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=key)
    close(mine.bn.running_mean, theirs.bn.running_mean)
    close(mine.bn.running_var, theirs.bn.running_var)


def test_cnn_sgd_steps_match_torch():
    """Five SGD (momentum) steps on fresh batches: every weight and BatchNorm's running
    statistics follow torch's, then eval mode gives the same outputs."""
    fn.manual_seed(5)
    rng = np.random.default_rng(5)
    mine = make_cnn(fn, fn.float64)
    theirs = torch_copy_of(mine)
    opt = fn.optim.SGD(mine.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    loss_fn = fn.losses.SparseCategoricalCrossentropy(from_logits=True)
    for _ in range(5):
        x = rng.standard_normal((6, 2, 8, 6))
        y = rng.integers(0, 3, 6)
        opt.zero_grad()
        topt.zero_grad()
        loss = loss_fn(mine(fn.from_numpy(x)), y)
        tloss = TF.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        loss.backward()
        tloss.backward()
        opt.step()
        topt.step()
        assert abs(loss.item() - tloss.item()) < 1e-10
    ours, reference = mine.state_dict(), theirs.state_dict()
    assert int(ours["bn.num_batches_tracked"]) == 5
    for key in ours:
        np.testing.assert_allclose(ours[key], reference[key].numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=key)
    mine.eval()
    theirs.eval()
    x = rng.standard_normal((3, 2, 5, 8))
    close(mine(fn.from_numpy(x)), theirs(torch.tensor(x)))


def test_compile_fit_captures_the_cnn_step_and_matches_eager_fit():
    """fit captures the nn.Module's training step (conv, pools, batch norm, dropout) and
    replays it: the same losses, weights and running statistics as fit(capture=False)."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((24, 2, 8, 7)).astype(np.float32)
    y = rng.integers(0, 3, 24)
    results = {}
    for capture in (True, False):
        fn.manual_seed(6)
        model = nn.Sequential(make_cnn(fn, None), nn.Dropout(0.25))
        model.compile(optimizer=fn.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                      loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True),
                      capture=capture)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a refused capture would warn
            history = model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
        results[capture] = (history.history["loss"], model.state_dict())
        assert (len(model._captured) > 0) == capture
    np.testing.assert_array_equal(results[True][0], results[False][0])
    assert results[True][0][-1] < results[True][0][0]
    for key, value in results[True][1].items():
        np.testing.assert_array_equal(value, results[False][1][key], err_msg=key)
    assert int(results[True][1]["0.bn.num_batches_tracked"]) == 9
