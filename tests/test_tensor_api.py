"""The tensor API against PyTorch: a table of cases, each run on fastnn and on torch with the
same float64 (or integer / bool) inputs, comparing values, dtypes, shapes and the gradients
of every float input (for a random cotangent on the outputs). Then what a table cannot say:
views sharing memory, in-place ops and their autograd errors, factories and conversions."""

import numpy as np
import pytest

import fastnn as fn

torch = pytest.importorskip("torch")

RNG_SEED = np.random.SeedSequence().entropy  # fresh inputs each run; printed on failure


# --- inputs ----------------------------------------------------------------------------------

def _array(spec, rng):
    """spec: ("f", shape) normal floats, ("p", shape) floats in [0.5, 2], ("h", shape)
    halves in [-2, 2] (ties for max/min/clamp), ("z", shape) normal with some zeros,
    ("i", shape, low, high) int64, ("b", shape) bool."""
    kind, shape = spec[0], spec[1]
    if kind == "f":
        return rng.standard_normal(shape)
    if kind == "p":
        return rng.uniform(0.5, 2.0, shape)
    if kind == "h":
        return np.round(rng.uniform(-2, 2, shape) * 2) / 2
    if kind == "z":
        a = rng.standard_normal(shape)
        a[rng.random(shape) < 0.3] = 0.0
        return a
    if kind == "i":
        return rng.integers(spec[2], spec[3], shape).astype(np.int64)
    if kind == "b":
        return rng.random(shape) < 0.5
    raise ValueError(spec)


def _inputs(specs, rng):
    arrays = [_array(s, rng) for s in specs]
    ours, theirs = [], []
    for a in arrays:
        grad = a.dtype == np.float64
        ours.append(fn.tensor(a, dtype=a.dtype.name, requires_grad=grad))
        theirs.append(torch.tensor(a, requires_grad=grad))
    return arrays, ours, theirs


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _dtype_name(t):
    return str(t.dtype).replace("torch.", "")


def _value(t):
    if isinstance(t, (fn.Tensor, torch.Tensor)):
        return t.detach().numpy() if isinstance(t, torch.Tensor) else t.numpy()
    return np.asarray(t)


def _close(ours, theirs, what, dtype_name):
    rtol, atol = (1e-10, 1e-12) if dtype_name == "float64" else (2e-6, 1e-6)
    if dtype_name in ("float32", "float64"):
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=what)
    else:
        np.testing.assert_array_equal(ours, theirs, err_msg=what)


def run_case(name, specs, f):
    rng = np.random.default_rng([RNG_SEED, abs(hash(name)) % 2**32])
    arrays, ours_in, theirs_in = _inputs(specs, rng)
    ours = _flat(f(fn, *ours_in))
    theirs = _flat(f(torch, *theirs_in))
    where = f"case {name!r} (seed {RNG_SEED})"
    assert len(ours) == len(theirs), where
    cotangents = []
    for k, (o, t) in enumerate(zip(ours, theirs)):
        if not isinstance(t, torch.Tensor):
            assert type(o) is type(t) and o == t, f"{where}: output {k}: {o!r} != {t!r}"
            continue
        assert isinstance(o, fn.Tensor), f"{where}: output {k} is {type(o).__name__}"
        assert str(o.dtype) == _dtype_name(t), f"{where}: output {k} dtype {o.dtype} != {t.dtype}"
        assert tuple(o.shape) == tuple(t.shape), f"{where}: output {k} shape {o.shape} != {t.shape}"
        _close(_value(o), _value(t), f"{where}: output {k}", str(o.dtype))
        assert o.requires_grad == t.requires_grad, f"{where}: output {k} requires_grad"
        if t.requires_grad:
            w = rng.standard_normal(tuple(t.shape))
            cotangents.append((o, t, w))
    if not cotangents:
        return
    loss_ours = sum((o * fn.tensor(w, dtype=str(o.dtype))).sum() for o, _, w in cotangents)
    loss_theirs = sum((t * torch.tensor(w, dtype=t.dtype)).sum() for _, t, w in cotangents)
    loss_ours.backward()
    loss_theirs.backward()
    for k, (a, x, y) in enumerate(zip(arrays, ours_in, theirs_in)):
        if not y.requires_grad:
            continue
        if y.grad is None:
            assert x.grad is None or not np.any(x.grad.numpy()), f"{where}: grad {k}"
            continue
        assert x.grad is not None, f"{where}: input {k} got no gradient"
        _close(x.grad.numpy(), y.grad.numpy(), f"{where}: gradient of input {k}", "float64")


F35, F5, F235 = ("f", (3, 5)), ("f", (5,)), ("f", (2, 3, 5))
P35, H35, H5 = ("p", (3, 5)), ("h", (3, 5)), ("h", (5,))
I35, I5 = ("i", (3, 5), -4, 5), ("i", (5,), -4, 5)


def _setitem(key, value_index=None):
    def f(L, a, *rest):
        y = a * 1
        y[key] = rest[0] if rest else 0.5
        return y
    return f


def _inplace(method, *args, **kwargs):
    def f(L, a, *rest):
        y = a * 2
        getattr(y, method)(*[rest[i] if isinstance(i, int) else i.value for i in args], **kwargs)
        return y
    return f


class Lit:
    """A literal argument of an _inplace case (ints pick an input)."""

    def __init__(self, value):
        self.value = value


CASES = [
    # comparisons give bool; sums of bool and int give int64
    ("eq broadcast int", [I35, I5], lambda L, a, b: a == b),
    ("lt scalar", [F35], lambda L, a: a < 0.3),
    ("ge broadcast", [F35, F5], lambda L, a, b: a >= b),
    ("ne python int", [I35], lambda L, a: a != 2),
    ("gt float vs int", [F35, I5], lambda L, a, b: a > b),
    ("scalar on the left", [F35], lambda L, a: 0.1 <= a),
    ("bool sum", [F35], lambda L, a: (a > 0).sum()),
    ("int sum dim", [I35], lambda L, a: a.sum(1)),
    ("bool sum dim keepdim", [F35], lambda L, a: (a > 0).sum(dim=0, keepdim=True)),
    ("logical ops", [F35, F5], lambda L, a, b: ((a > 0) & (b < 0), (a > 0) | (b < 0),
                                                (a > 0) ^ (b < 0), ~(a > 0))),
    ("predicted == labels", [F35, ("i", (3,), 0, 5)],
     lambda L, out, labels: (L.max(out.data, 1)[1] == labels).sum()),
    ("where", [F35, F5], lambda L, a, b: L.where(a > 0, a, b)),
    ("where scalar", [F35], lambda L, a: L.where(a > 0, a, 0.0)),
    ("masked_fill", [F35], lambda L, a: a.masked_fill(a > 0.5, -1.0)),
    # promotion and arithmetic
    ("int plus float scalar", [I35], lambda L, a: a + 1.5),
    ("int true division", [I35, ("i", (5,), 1, 4)], lambda L, a, b: a / b),
    ("int floor division", [I35, ("i", (5,), 1, 4)], lambda L, a, b: (a // b, a // -b)),
    ("int remainder", [I35, ("i", (5,), 1, 4)], lambda L, a, b: (a % b, a % -b)),
    ("float floor division", [F35, P35], lambda L, a, b: (a // b).detach()),
    ("float remainder", [F35, P35], lambda L, a, b: (a % b, a % -b)),
    ("int times int", [I35, I5], lambda L, a, b: a * b - b),
    ("float64 tensor with int tensor", [F35, I5], lambda L, a, b: a * b),
    ("bool plus int", [F35, I5], lambda L, a, b: (a > 0) + b),
    ("neg and abs of int", [I35], lambda L, a: (-a, abs(a), a.abs(), a.sign())),
    ("pow scalar", [F35], lambda L, a: (a ** 2, a ** 3, a.pow(2))),
    ("pow float exponent", [P35], lambda L, a: (a ** 0.5, a ** -1.5)),
    ("pow tensor", [P35, F5], lambda L, a, b: a ** b),
    ("rpow", [F35], lambda L, a: 2.0 ** a),
    ("int pow", [I35], lambda L, a: a ** 2),
    ("maximum ties", [H35, H5], lambda L, a, b: L.maximum(a, b)),
    ("minimum ties", [H35, H5], lambda L, a, b: L.minimum(a, b)),
    ("max of two tensors", [H35, H5], lambda L, a, b: L.max(a, b)),
    ("clamp", [H35], lambda L, a: a.clamp(-1.0, 0.5)),
    ("clamp min", [H35], lambda L, a: (a.clamp(min=0.0), a.clip(max=0.5))),
    ("clamp tensor bounds", [F35, F5], lambda L, a, b: a.clamp(min=b)),
    ("clamp int", [I35], lambda L, a: a.clamp(-1, 2)),
    # unary math
    ("exp log", [P35], lambda L, a: (a.exp(), a.log(), L.log(a), L.exp(a))),
    ("sqrt rsqrt", [P35], lambda L, a: (a.sqrt(), L.sqrt(a), a.rsqrt())),
    ("abs neg sign", [F35], lambda L, a: (a.abs(), L.abs(a), -a, a.neg(), a.sign())),
    ("trig", [F35], lambda L, a: (a.sin(), a.cos())),
    ("log1p expm1 log2 log10", [P35], lambda L, a: (a.log1p(), a.expm1(), a.log2(), a.log10())),
    ("reciprocal square", [P35], lambda L, a: (a.reciprocal(), a.square())),
    ("roundings", [F35], lambda L, a: ((a * 3).floor(), (a * 3).ceil(), (a * 3).round(),
                                       (a * 3).trunc())),
    ("int exp", [I35], lambda L, a: a.exp()),
    ("sigmoid tanh relu", [F35], lambda L, a: (a.sigmoid(), a.tanh(), a.relu())),
    ("softmax dim", [F235], lambda L, a: (a.softmax(dim=2), a.log_softmax(dim=-1),
                                           a.softmax(0), a.log_softmax(dim=1))),
    # reductions
    ("sum", [F235], lambda L, a: (a.sum(), a.sum(1), a.sum((0, 2), keepdim=True),
                                  a.sum(dim=-1))),
    ("mean", [F235], lambda L, a: (a.mean(), a.mean(1, keepdim=True), L.mean(a, (0, 1)))),
    ("max all with ties", [H35], lambda L, a: (a.max(), a.min())),
    ("max dim", [F35], lambda L, a: tuple(a.max(1)) + tuple(a.min(0, keepdim=True))),
    ("max dim ties", [H35], lambda L, a: tuple(a.max(1))),
    ("max dim values attribute", [F235], lambda L, a: (a.max(dim=2).values,
                                                        a.max(dim=2).indices)),
    ("fn.max(t, 1)", [F35], lambda L, a: tuple(L.max(a, 1))),
    ("max of int", [I35], lambda L, a: (a.max(), tuple(a.max(0)))),
    ("argmax argmin", [F235], lambda L, a: (a.argmax(), a.argmax(1), a.argmin(0, keepdim=True),
                                            L.argmax(a, dim=-1))),
    ("std var", [F235], lambda L, a: (a.std(), a.std(1), a.std(1, unbiased=False),
                                      a.var(0, keepdim=True), a.var(correction=0),
                                      L.std(a, dim=(0, 2)))),
    ("prod", [("z", (3, 5))], lambda L, a: (a.prod(1), a.prod(0, keepdim=True))),
    ("prod all", [("p", (7,))], lambda L, a: a.prod()),
    ("amax amin", [F235], lambda L, a: (a.amax(1), a.amin(-1))),
    ("logsumexp", [F235], lambda L, a: (a.logsumexp(1), L.logsumexp(a, dim=(0, 2)))),
    ("norm", [F35], lambda L, a: (a.norm(), a.norm(dim=1))),
    ("all any", [F35], lambda L, a: ((a > -1).all(), (a > 1).any(1), (a > 0).all(dim=0))),
    ("gather", [F35, ("i", (3, 2), 0, 5)], lambda L, a, i: a.gather(1, i)),
    # matrix products
    ("matmul", [F35, ("f", (5, 4))], lambda L, a, b: (a @ b, a.matmul(b), L.mm(a, b))),
    ("matmul vectors", [F35, F5], lambda L, a, b: (a @ b, b @ b, b @ a.T)),
    ("matmul batched", [F235, ("f", (2, 5, 4))], lambda L, a, b: (a @ b, L.bmm(a, b))),
    ("matmul broadcast batch", [F235, ("f", (5, 2))], lambda L, a, b: a @ b),
    ("matmul broadcast both", [("f", (2, 1, 3, 5)), ("f", (4, 5, 2))], lambda L, a, b: a @ b),
    # shapes
    ("view reshape", [F235], lambda L, a: (a.view(-1, 5), a.reshape(5, -1), a.view(6, 5),
                                           a.reshape(-1))),
    ("permute transpose", [F235], lambda L, a: (a.permute(2, 0, 1), a.transpose(0, 2),
                                                a.transpose(-1, 1))),
    ("T and t()", [F35], lambda L, a: (a.T, a.t(), L.t(a))),
    ("unsqueeze squeeze", [("f", (3, 1, 5))], lambda L, a: (a.unsqueeze(0), a.unsqueeze(-1),
                                                         a.squeeze(), a.squeeze(1),
                                                         a.squeeze(0))),
    ("flatten", [F235], lambda L, a: (a.flatten(), a.flatten(1), a.flatten(0, 1),
                                      L.flatten(a, 1))),
    ("cat stack", [F35, F35], lambda L, a, b: (L.cat([a, b], dim=1), L.cat((a, b)),
                                               L.stack([a, b]), L.stack([a, b], dim=2))),
    ("expand repeat", [("f", (3, 1))], lambda L, a: (a.expand(3, 4), a.expand(2, -1, 5),
                                                     a.repeat(2, 3))),
    ("flip narrow", [F35], lambda L, a: (a.flip(0), a.flip(0, 1), a.narrow(1, 1, 3))),
    ("split chunk unbind", [("f", (7, 3))], lambda L, a: (a.split(3), a.chunk(3), a.unbind(1),
                                                          a.split([2, 5]))),
    ("size dim numel", [F235], lambda L, a: (a.size(1), a.dim(), a.numel(), len(a))),
    # indexing: views and copies, masks, index arrays
    ("index int", [F235], lambda L, a: (a[1], a[-1], a[0, 2], a[1, -1, 3])),
    ("index slices", [F235], lambda L, a: (a[0:1], a[:, 1:], a[:, ::2], a[..., 1:4:2])),
    ("index columns", [F35], lambda L, a: (a[:, 1], a[..., 0], a[:, -1])),
    ("index none ellipsis", [F235], lambda L, a: (a[None], a[:, None, 1:], a[..., None],
                                                   a[1, ..., None, 2])),
    ("index bool mask tensor", [F35], lambda L, a: a[a > 0]),
    ("index row mask", [F35], lambda L, a: a[a[:, 0] > 0]),
    ("index repeated ints", [F35], lambda L, a: a[[0, 2, 2, 0]]),
    ("index int tensor", [F35, ("i", (4,), 0, 3)], lambda L, a, i: a[i]),
    ("index columns list", [F35], lambda L, a: a[:, [4, 1, 1]]),
    ("index pairs", [F35], lambda L, a: a[[0, 1, 2], [4, 0, 4]]),
    ("index slice and array", [F235], lambda L, a: (a[1:, [0, 2]], a[:, [2, 0], 1:3])),
    ("index separated arrays", [F235], lambda L, a: a[[1, 0], :, [3, 4]]),
    ("index ints tensors", [F35, ("i", (3,), 0, 5)],
     lambda L, a, i: a[L.arange(3), i]),
    # setitem: in place, with gradients to the tensor and to the value
    ("setitem column", [F35, ("f", (3,))], _setitem((slice(None), 0))),
    ("setitem row", [F35, F5], _setitem(1)),
    ("setitem scalar slice", [F35], _setitem((slice(0, 2), slice(1, None, 2)))),
    ("setitem mask", [F35], lambda L, a: _setmask(a)),
    ("setitem index list", [F35, ("f", (2, 5))], _setitem([2, 0])),
    ("setitem broadcast", [F35, ("f", (1, 5))], _setitem(slice(1, 3))),
    ("setitem leaf constant", [F35], lambda L, a: _set_into_zeros(L, a)),
    # in-place ops on a non-leaf
    ("add_", [F35, F5], _inplace("add_", 0)),
    ("add_ alpha", [F35, F5], _inplace("add_", 0, alpha=2.5)),
    ("sub_", [F35, F35], _inplace("sub_", 0)),
    ("mul_", [F35, F5], _inplace("mul_", 0)),
    ("div_", [F35, P35], _inplace("div_", 0)),
    ("pow_", [P35], _inplace("pow_", Lit(2.0))),
    ("clamp_", [H35], _inplace("clamp_", Lit(-1.0), Lit(1.0))),
    ("zero_", [F35], _inplace("zero_")),
    ("fill_", [F35], _inplace("fill_", Lit(3.0))),
    ("copy_", [F35, F5], _inplace("copy_", 0)),
    ("masked_fill_", [F35], lambda L, a: (a * 1).masked_fill_(a > 0, 0.0)),
    ("iadd imul", [F35, F5], lambda L, a, b: _iops(a, b)),
    ("inplace on int", [I35], lambda L, a: _int_iops(a)),
    ("inplace on a view", [F35], lambda L, a: _view_inplace(a)),
    ("inplace on a reshape", [F35, ("f", (15,))], lambda L, a, b: _reshape_inplace(a, b)),
    ("setitem through a view", [F35, ("f", (5,))], lambda L, a, b: _view_setitem(a, b)),
    ("inplace on a column", [F35, ("f", (3,))], lambda L, a, b: _column_inplace(a, b)),
    ("inplace on a transpose", [F35, ("f", (5, 3))], lambda L, a, b: _transpose_inplace(a, b)),
]


def _setmask(a):
    y = a * 1
    y[y > 0] = 0.0
    return y


def _set_into_zeros(L, a):
    z = L.zeros(3, 5, dtype=L.float64)
    z[1] = a[0] * 2
    z[:, 2] = a[:, 1]
    return z


def _iops(a, b):
    y = a * 1
    y += b
    y *= b
    y -= 1
    y /= 2
    return y


def _int_iops(a):
    y = a.clone()
    y += 2
    y *= 3
    y //= 2
    return y


def _view_inplace(a):
    y = a * 1
    v = y[1]
    v.mul_(3)
    return y, v


def _reshape_inplace(a, b):
    y = a * 1
    y.view(-1).add_(b)
    return y


def _column_inplace(a, b):
    y = a * 1
    y[:, 1].mul_(b)
    y[:, 3].add_(1.0)
    return y


def _transpose_inplace(a, b):
    y = a * 1
    y.T.mul_(b)
    return y


def _view_setitem(a, b):
    y = a * 1
    row = y[2]
    row[1:3] = b[:2] * 2
    return y


@pytest.mark.parametrize("name,specs,f", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(name, specs, f):
    run_case(name, specs, f)


# --- what the seeds do ------------------------------------------------------------------------

def test_accuracy_the_pytorch_way():
    rng = np.random.default_rng([RNG_SEED, 1])
    output = fn.tensor(rng.standard_normal((64, 10)), requires_grad=True)
    target = fn.tensor(rng.integers(0, 10, 64))
    with fn.no_grad():
        correct, total = 0, 0
        _, predicted = fn.max(output.data, 1)
        total += target.size(0)
        correct += (predicted == target).sum().item()
    assert isinstance(correct, int) and total == 64
    assert correct == int((output.numpy().argmax(1) == target.numpy()).sum())
    assert f"{100 * correct / total:.2f}"


def test_item_and_conversions():
    assert isinstance(fn.tensor([True]).item(), bool)
    assert isinstance(fn.tensor(3).item(), int) and isinstance(fn.tensor(2.5).item(), float)
    t = fn.tensor([[1.5, -2.0]])
    assert t.tolist() == [[1.5, -2.0]] and (t > 0).tolist() == [[True, False]]
    assert (t > 0).numpy().dtype == np.bool_
    for method, dtype in (("float", "float32"), ("double", "float64"), ("long", "int64"),
                          ("int", "int32"), ("bool", "bool")):
        assert getattr(t, method)().dtype == dtype == getattr(torch.tensor([[1.5, -2.0]]),
                                                              method)().dtype.__str__()[6:]
    assert t.to(fn.int64).dtype == fn.long and t.to("float64").dtype == fn.double
    assert t.to(dtype=fn.bool).dtype == "bool" and t.to(fn.zeros(1, dtype=fn.int32)).dtype == fn.int
    assert t.long().tolist() == [[1, -2]]
    assert fn.float32.is_floating_point and not fn.int64.is_floating_point
    assert repr(fn.float32) == "fastnn.float32" and fn.float == fn.float32
    assert t.size() == (1, 2) and t.size().numel() == 2 and t.size(-1) == 2


def test_data_and_detach():
    x = fn.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    x.data.mul_(10)  # not seen by autograd's checks, as .data in torch
    assert x.tolist() == [10.0, 20.0] and x.requires_grad and x.is_leaf
    d = x.detach()
    assert not d.requires_grad and d._same_storage(x)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [20.0, 40.0])  # 2x, read at backward time
    x.data = fn.tensor([5.0, 6.0, 7.0])
    assert x.shape == (3,) and x.requires_grad


def test_factories():
    fn.manual_seed(3)
    a = fn.randn(2, 3)
    fn.manual_seed(3)
    assert np.array_equal(fn.randn((2, 3)).numpy(), a.numpy()) and a.dtype == "float32"
    assert fn.rand(4, dtype=fn.float64).dtype == "float64"
    assert fn.zeros(2, 3).shape == (2, 3) and fn.ones((4,), dtype=fn.long).dtype == "int64"
    assert fn.full((2,), 7).dtype == "int64" and fn.full((2,), 0.5).dtype == "float32"
    assert fn.full((2,), True).dtype == "bool"
    for args in ((5,), (2, 9), (1, 10, 3), (0.0, 1.0, 0.25), (5, 1, -2), (-1.5, 2.0)):
        ours, theirs = fn.arange(*args), torch.arange(*args)
        assert str(ours.dtype) == str(theirs.dtype)[6:], args
        np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    assert fn.arange(3, dtype=fn.float64).dtype == "float64"
    x = fn.tensor([[1.0, 2.0]], dtype="float64")
    assert fn.zeros_like(x).dtype == "float64" and fn.ones_like(x).tolist() == [[1.0, 1.0]]
    assert fn.zeros_like(x, dtype=fn.int32).dtype == "int32"
    r = fn.randint(0, 10, (1000,))
    assert r.dtype == "int64" and 0 <= r.min().item() and r.max().item() <= 9
    assert len(set(r.tolist())) == 10
    arr = np.arange(6.0).reshape(2, 3)
    t = fn.from_numpy(arr)
    assert t.dtype == "float64"
    arr[0, 0] = 42.0
    assert t[0, 0].item() == 42.0  # shares memory, as torch.from_numpy
    assert fn.from_numpy(np.array([True])).dtype == "bool"


def test_no_grad_and_grad_mode():
    x = fn.tensor([1.0], requires_grad=True)
    with fn.no_grad():
        y = x * 2
        x += 1  # in place on a leaf is allowed without grad mode
    assert not y.requires_grad and x.tolist() == [2.0]


# --- views and in-place rules -----------------------------------------------------------------

def test_views_share_memory_like_torch():
    for L in (fn, torch):
        t = L.zeros(4, 3)
        t[1].fill_(7.0)            # x[i] is a view
        t.view(-1)[0] = 5.0        # so is view/reshape
        t[2:4][0, 1] = 3.0         # and a slice of rows
        assert t.tolist() == [[5.0, 0.0, 0.0], [7.0, 7.0, 7.0], [0.0, 3.0, 0.0],
                              [0.0, 0.0, 0.0]], L.__name__


def test_inplace_on_a_strided_selection_writes_back():
    """x[:, 0] and x.T are copies in fastnn (every tensor is contiguous); an in-place op on
    one writes its new values back into x, as the torch view would."""
    for L in (fn, torch):
        t = L.zeros(3, 4)
        t[:, 0].fill_(1.0)
        t.T[1].add_(2.0)
        t[:, 1::2][0] = 5.0
        t.transpose(0, 1)[3, 2] = 7.0
        t[::2].mul_(3.0)
        assert t.tolist() == [[3.0, 15.0, 0.0, 15.0], [1.0, 2.0, 0.0, 0.0],
                              [3.0, 6.0, 0.0, 21.0]], L.__name__


def test_inplace_on_leaf_that_requires_grad_raises():
    for L in (fn, torch):
        x = L.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf"):
            x.add_(1)
        with pytest.raises(RuntimeError, match="leaf"):
            x += 1
        with pytest.raises(RuntimeError):
            x[0] = 2.0
        with pytest.raises(RuntimeError):
            x[1:].mul_(2)  # a view of a leaf
        with L.no_grad():
            x.mul_(2)
        assert x.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("modify", ["saved output", "saved input", "saved operand",
                                    "relu output", "matmul operand", "a view of it"])
def test_modifying_a_saved_tensor_raises_at_backward(modify):
    for L in (fn, torch):
        x = L.tensor([0.5, 1.5], dtype=L.float64, requires_grad=True)
        a = x * 1
        if modify == "saved output":
            y = a.exp()        # exp keeps its output
            y.add_(1)
        elif modify == "saved input":
            y = a.log()        # log keeps its input
            a.mul_(2)
        elif modify == "saved operand":
            b = x * 3
            y = a * b          # mul keeps both operands
            b[0] = 0.0
        elif modify == "relu output":
            y = a.relu()       # relu keeps its output
            y.mul_(2)
        elif modify == "matmul operand":
            w = L.ones(2, 3, dtype=L.float64, requires_grad=True)
            y = a.unsqueeze(0) @ w
            a.add_(1)
        else:
            y = a.sin()
            a[1:].zero_()     # through a view: the version counter is the storage's
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_inplace_that_no_backward_reads_is_allowed():
    for L in (fn, torch):
        x = L.tensor([0.5, 1.5], dtype=L.float64, requires_grad=True)
        a = x * 1
        y = a + 2              # add keeps nothing
        a.mul_(3)
        (y.sum() + a.sum()).backward()
        assert x.grad.tolist() == [4.0, 4.0]


def test_version_counter():
    for L in (fn, torch):
        t = L.zeros(3)
        v0 = t._version
        t.add_(1)
        t[0] = 2.0
        t.view(-1).mul_(2)
        assert t._version == v0 + 3, L.__name__


# --- errors -----------------------------------------------------------------------------------

def test_errors_name_the_problem():
    t = fn.tensor([[1.0, 2.0]])
    with pytest.raises(IndexError, match="out of range"):
        t[3]
    with pytest.raises(IndexError, match="out of range"):
        t.max(2)
    with pytest.raises(TypeError, match="float32"):
        fn.tensor([1, 2]).mean()
    with pytest.raises(TypeError, match="bitwise"):
        t & t
    with pytest.raises(RuntimeError, match="can't be cast"):
        fn.tensor([1, 2]).add_(0.5)
    with pytest.raises(ValueError, match="broadcast"):
        t + fn.zeros(3)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        fn.zeros(2).add_(fn.zeros(3, 2))
    with pytest.raises(ValueError, match="stack expects each tensor to be equal size"):
        fn.stack([fn.zeros(2), fn.zeros(3)])
    with pytest.raises(TypeError, match="dtype"):
        t.to(np.float16)
    x = fn.tensor([1.5], requires_grad=True)
    with pytest.raises(RuntimeError, match="floor_divide"):
        (x // 2).sum().backward()  # as torch: part of the graph, not differentiable
    assert (t == None) is False and (t != "a") is True  # noqa: E711 - what torch gives
