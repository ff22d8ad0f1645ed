"""fastnn.nn's channels-first modules run channels-last kernels and hand their outputs on as
deferred permutes (nn/conv.py, ops::permute_deferred): the copy to NCHW runs only when
something other than a channels-last kernel reads the tensor. These tests hold that fast
path to the plain one (a permute copy each way, what fastnn.nn did before): the same bits
forward and backward, whatever reads the deferred tensors and however the graph is cut."""

import numpy as np
import pytest

import fastnn as fn
import fastnn.nn as nn
import fastnn.nn.functional as F
from fastnn import _C


@pytest.fixture
def plain_permutes(monkeypatch):
    """Runs the code under test with every deferred permute made at once (the plain path)."""
    def use():
        monkeypatch.setattr(_C, "permute_deferred", _C.permute)
    return use


class Net(nn.Module):
    """Every channels-last module in a chain, with odd sizes: conv, activations (module and
    functional), max and average pools, batch norm, a second conv, then NCHW flatten."""

    def __init__(self, dtype):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1, dtype=dtype)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 5, (2, 3), stride=(1, 2), dtype=dtype)
        self.bn = nn.BatchNorm2d(5, dtype=dtype)
        self.pool2 = nn.AvgPool2d(2, stride=1, padding=1)
        self.act = nn.Tanh()
        self.fc = nn.Linear(5 * 4 * 2, 4, dtype=dtype)

    def forward(self, x):
        x = self.pool1(F.relu(self.conv1(x)))
        x = self.pool2(self.act(self.bn(F.leaky_relu(self.conv2(x), 0.1))))
        return self.fc(x.view(x.shape[0], -1))


def run_net(dtype, seed=0):
    """The loss, the output, and every parameter's gradient after one backward."""
    fn.manual_seed(seed)
    net = Net(dtype)
    rng = np.random.default_rng(seed)
    x = fn.tensor(rng.standard_normal((3, 3, 9, 7)), dtype=dtype)
    target = fn.tensor(rng.integers(0, 4, 3))
    out = net(x)
    loss = nn.CrossEntropyLoss()(out, target)
    loss.backward()
    return (np.asarray(loss), np.asarray(out),
            {name: np.asarray(p.grad) for name, p in net.named_parameters()})


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_deferred_chain_gives_the_plain_paths_bits(dtype, plain_permutes):
    loss, out, grads = run_net(dtype)
    plain_permutes()
    plain_loss, plain_out, plain_grads = run_net(dtype)
    np.testing.assert_array_equal(loss, plain_loss)
    np.testing.assert_array_equal(out, plain_out)
    assert grads.keys() == plain_grads.keys()
    for name in grads:
        np.testing.assert_array_equal(grads[name], plain_grads[name], err_msg=name)


def test_the_chain_copies_nothing_until_flatten():
    fn.manual_seed(0)
    net = Net("float32")
    x = fn.tensor(np.random.default_rng(0).standard_normal((3, 3, 9, 7)))
    steps = [net.conv1(x)]
    for module in (F.relu, net.pool1, net.conv2, F.leaky_relu, net.bn, net.act, net.pool2):
        steps.append(module(steps[-1]))
    net.fc(steps[-1].view(3, -1)).sum().backward()
    # Only the last one was read (by view); the others' copies never ran.
    assert [_C.is_deferred(t) for t in steps] == [True] * 7 + [False]


def conv_output(seed=1, requires_grad=True):
    """A conv's deferred NCHW output y, its input x, and y's values from the plain path."""
    rng = np.random.default_rng(seed)
    fn.manual_seed(seed)
    conv = nn.Conv2d(2, 3, 3, dtype="float64")
    x = fn.tensor(rng.standard_normal((2, 2, 6, 5)), dtype="float64",
                  requires_grad=requires_grad)
    y = conv(x)
    kernel = np.asarray(conv.weight.detach())
    cols = np.lib.stride_tricks.sliding_window_view(np.asarray(x.detach()), (3, 3), (2, 3))
    expected = np.einsum("ncijkl,fckl->nfij", cols, kernel)
    expected += np.asarray(conv.bias.detach())[None, :, None, None]
    return conv, x, y, expected


# Each way of reading a deferred tensor, and what it must give for NCHW values e.
READS = {
    "numpy": (lambda t: t.detach().numpy(), lambda e: e),
    "view": (lambda t: t.view(2, -1), lambda e: e.reshape(2, -1)),
    "add": (lambda t: t + 1.0, lambda e: e + 1.0),
    "index": (lambda t: t[1, 2], lambda e: e[1, 2]),
    "sum over channels": (lambda t: t.sum(dim=1), lambda e: e.sum(1)),
    "user permute": (lambda t: t.permute(0, 2, 3, 1), lambda e: e.transpose(0, 2, 3, 1)),
    "tolist": (lambda t: np.array(t.detach().tolist()), lambda e: e),
    "detach": (lambda t: t.detach(), lambda e: e),
}


@pytest.mark.parametrize("read", READS)
def test_a_deferred_tensor_reads_as_nchw(read):
    _, _, y, expected = conv_output()
    assert _C.is_deferred(y) and tuple(y.shape) == expected.shape
    got, want = READS[read]
    value = got(y)
    value = value.detach().numpy() if isinstance(value, fn.Tensor) else value
    np.testing.assert_allclose(value, want(expected), rtol=1e-12, atol=1e-12)
    assert not _C.is_deferred(y)  # read once, it is a plain tensor from then on


def plain_conv_output(plain_permutes, **kwargs):
    plain_permutes()
    return conv_output(**kwargs)


def grads_of(tensors):
    return [np.asarray(t.grad) for t in tensors]


def test_gradients_meet_from_the_source_path_and_the_copied_path(plain_permutes):
    # pool(relu(y)) takes y's channels-last source; y * w reads the NCHW copy: y's gradient
    # is the sum of both, as on the plain path.
    def run():
        conv, x, y, _ = conv_output()
        w = fn.tensor(np.linspace(-1, 1, y.numel()).reshape(tuple(y.shape)))
        loss = F.max_pool2d(F.relu(y), 2).sum() + (y * w).sum() + F.avg_pool2d(y, 2).sum()
        loss.backward()
        return np.asarray(loss), grads_of([x, conv.weight, conv.bias])

    loss, grads = run()
    plain_permutes()
    plain_loss, plain_grads = run()
    np.testing.assert_array_equal(loss, plain_loss)
    for g, p in zip(grads, plain_grads):
        np.testing.assert_array_equal(g, p)


def test_a_detached_deferred_tensor_passes_no_gradient():
    conv, x, y, _ = conv_output()
    out = F.max_pool2d(y.detach(), 2)
    assert not out.requires_grad
    (F.max_pool2d(y, 2).sum() * 0.0 + out.sum()).backward()
    np.testing.assert_array_equal(np.asarray(conv.bias.grad), 0.0)


def test_a_leaf_made_from_a_deferred_tensor_gets_its_own_gradient(plain_permutes):
    def run():
        with fn.no_grad():
            _, _, y, _ = conv_output(requires_grad=False)
        y.requires_grad = True  # a leaf now: its gradient must land in y.grad
        F.max_pool2d(F.relu(y), 2).sum().backward()
        return np.asarray(y.grad)

    grad = run()
    plain_permutes()
    np.testing.assert_array_equal(grad, run())


def test_in_place_ops_on_a_deferred_tensor(plain_permutes):
    def run():
        conv, x, y, _ = conv_output()
        pooled = F.max_pool2d(y, 2)       # reads y's source
        y = F.relu(y * 1.0, inplace=True)  # a copy, then changed in place
        z = nn.ReLU(inplace=True)(conv(x))  # in place on a deferred tensor itself
        loss = pooled.sum() + y.sum() + F.avg_pool2d(z, 2).sum()
        loss.backward()
        return [np.asarray(pooled.detach()), np.asarray(z.detach())] + grads_of(
            [x, conv.weight, conv.bias])

    fast = run()
    plain_permutes()
    for a, b in zip(fast, run()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.cuda
@pytest.mark.skipif(not fn.cuda.is_available(), reason="no CUDA device")
def test_deferred_permutes_on_a_device():
    # The copy runs on the tensor's device when read there (the device's strided_copy).
    def run(device):
        fn.manual_seed(0)
        net = Net("float32").to(device)
        rng = np.random.default_rng(0)
        x = fn.tensor(rng.standard_normal((3, 3, 9, 7)), device=device)
        hidden = net.conv1(x)
        assert _C.is_deferred(hidden) and hidden.device == net.conv1.weight.device
        out = net(x)
        out.sum().backward()
        return [hidden.numpy(), out.numpy(), net.conv1.weight.grad.numpy()]

    for a, b in zip(run("cuda"), run("cpu")):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_the_gradient_with_respect_to_a_deferred_tensor(plain_permutes):
    # fn.autograd.grad(loss, [y]) where the pools took y's channels-last source (so the
    # gradient never passed y's own node) and y * w read its NCHW copy: y's gradient must
    # be the plain path's. Also a tensor read only through its source, and an unused one.
    def run():
        conv, x, y, _ = conv_output()
        w = fn.tensor(np.linspace(-1, 1, y.numel()).reshape(tuple(y.shape)))
        z = F.relu(y)  # deferred too, read only through its source by the pool below
        loss = F.max_pool2d(z, 2).sum() + (y * w).sum() + F.avg_pool2d(y, 2).sum()
        unused = conv(x)
        gy, gz, gx = fn.autograd.grad(loss, [y, z, x], retain_graph=True)
        (g_unused,) = fn.autograd.grad(loss, [unused], allow_unused=True)
        assert g_unused is None
        return [np.asarray(g) for g in (gy, gz, gx)]

    fast = run()
    plain_permutes()
    for a, b in zip(fast, run()):
        np.testing.assert_array_equal(a, b)


class Stashing(nn.Module):
    """Keeps a deferred intermediate that nothing in the step reads (as code that saves
    feature maps for a plot does): a captured step must leave it holding the last step's
    values, as an eager one does."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4 * 3 * 2, 3)

    def forward(self, x):
        self.hidden = self.conv(x)
        return self.fc(F.max_pool2d(F.relu(self.hidden), 2).flatten(1))


DEVICES = ["cpu", pytest.param("cuda", marks=[
    pytest.mark.cuda, pytest.mark.skipif(not fn.cuda.is_available(), reason="no CUDA device")])]


@pytest.mark.parametrize("device", DEVICES)
def test_a_captured_step_refreshes_deferred_tensors_it_leaves_behind(device, plain_permutes):
    # A callback reads the stashed tensor after every batch: each replay must refresh it,
    # as each eager step assigns a new one. (On the CPU a plan step repeats the copy once a
    # read has run it; a device plan, one graph, copies at every replay.)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((20, 3, 8, 6)).astype(np.float32)
    y = rng.integers(0, 3, 20)

    def run(capture):
        fn.manual_seed(1)
        net = Stashing().to(device)
        net.compile(optimizer=fn.optim.Adam(net.parameters(), lr=0.05),
                    loss=nn.CrossEntropyLoss(), capture=capture)
        seen = []
        read = fn.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: seen.append(
                net.hidden.detach().to("cpu").numpy().copy()))
        losses = net.fit(x, y, batch_size=5, epochs=2, shuffle=False, verbose=0,
                         callbacks=[read]).history["loss"]
        return losses, seen

    losses, seen = run(True)
    eager_losses, eager_seen = run(False)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-6)
    assert len(seen) == len(eager_seen) == 8
    for h, e in zip(seen, eager_seen):
        np.testing.assert_allclose(h, e, rtol=1e-5, atol=1e-6)
    plain_permutes()
    plain_losses, plain_seen = run(True)
    np.testing.assert_array_equal(losses, plain_losses)
    for h, p in zip(seen, plain_seen):
        np.testing.assert_array_equal(h, p)
