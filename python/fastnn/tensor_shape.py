"""PyTorch's shape methods: view/reshape, permute/transpose/.T, unsqueeze/squeeze,
flatten/unflatten, expand/repeat, flip, narrow/split/chunk/unbind. Views where memory
allows (reshape), strided copies otherwise (every fastnn tensor is contiguous). Installed on
``fastnn.Tensor`` by ``install()``."""

from __future__ import annotations

import builtins
import numbers
import operator

from . import _C
from . import dtypes as _dt
from .tensor_ops import link_strided, link_view
from .tensor_reduce import _dims


def _reshape(self, shape):
    return link_view(_C.reshape(self, shape), self)


def sizes(args, who="view"):
    """A shape from varargs ints or a single tuple/list (torch accepts both)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    try:
        return [operator.index(s) for s in args]
    except TypeError:
        raise TypeError(f"{who}: expected sizes as ints, got {args!r}") from None


def _dim(d, ndim, who):
    d = operator.index(d)
    if not -ndim <= d < builtins.max(ndim, 1):
        raise IndexError(f"{who}: dim {d} is out of range for a tensor with {ndim} dimensions")
    return d % builtins.max(ndim, 1)


def t_view(self, *shape):
    if len(shape) == 1 and (isinstance(shape[0], _dt.dtype) or isinstance(shape[0], str)):
        raise TypeError("view(dtype) (reinterpreting memory) is not supported; use .to(dtype)")
    return _reshape(self, sizes(shape))


def t_unsqueeze(self, dim):
    d = operator.index(dim)
    n = self.ndim
    if not -n - 1 <= d <= n:
        raise IndexError(f"unsqueeze: dim {d} is out of range for a tensor with {n} dimensions "
                         f"(expected in [{-n - 1}, {n}])")
    d %= n + 1
    shape = list(self.shape)
    shape.insert(d, 1)
    return _reshape(self, shape)


def t_squeeze(self, dim=None):
    shape = list(self.shape)
    if dim is None:
        drop = {i for i, s in enumerate(shape) if s == 1}
    else:
        drop = {_dim(d, self.ndim, "squeeze") for d in _dims(dim, "squeeze")}
        drop = {d for d in drop if self.ndim and shape[d] == 1}
    return _reshape(self, [s for i, s in enumerate(shape) if i not in drop])


def t_flatten(self, start_dim=0, end_dim=-1):
    if self.ndim == 0:
        return _reshape(self, [1])
    s = _dim(start_dim, self.ndim, "flatten")
    e = _dim(end_dim, self.ndim, "flatten")
    if s > e:
        raise ValueError("flatten: start_dim cannot come after end_dim")
    shape = list(self.shape)
    inner = 1
    for v in shape[s:e + 1]:
        inner *= v
    return _reshape(self, shape[:s] + [inner] + shape[e + 1:])


def t_unflatten(self, dim, sizes_):
    d = _dim(dim, self.ndim, "unflatten")
    shape = list(self.shape)
    return _reshape(self, shape[:d] + list(sizes_) + shape[d + 1:])


def t_permute(self, *dims):
    dims = sizes(dims, "permute")
    n = self.ndim
    if len(dims) != n or sorted(d % builtins.max(n, 1) for d in dims) != list(range(n)):
        raise ValueError(f"permute: expected a permutation of the {n} dims, got {dims}")
    dims = [d % n for d in dims]
    if dims == list(range(n)):
        return self
    strides = contiguous_strides(self.shape)
    shape = [self.shape[d] for d in dims]
    out_strides = [strides[d] for d in dims]
    # A copy that writes back where an in-place op changes it (tensor_ops.link_strided).
    # _C.permute: its backward is the inverse permute (a general selection's is a scatter).
    return link_strided(_C.permute(self, dims), self, shape, out_strides, 0)


def t_transpose(self, dim0, dim1):
    n = self.ndim
    if n == 0:
        return self
    a, b = _dim(dim0, n, "transpose"), _dim(dim1, n, "transpose")
    perm = list(range(n))
    perm[a], perm[b] = perm[b], perm[a]
    return t_permute(self, perm)


def t_t(self):
    if self.ndim > 2:
        raise ValueError(f"t() expects a tensor with <= 2 dimensions, got {self.ndim}; use "
                         "transpose(dim0, dim1)")
    return t_transpose(self, 0, 1) if self.ndim == 2 else self


def t_T(self):  # noqa: N802 - torch's name
    return t_permute(self, list(range(self.ndim))[::-1]) if self.ndim > 1 else self


def t_mT(self):  # noqa: N802
    return t_transpose(self, -2, -1)


def t_expand(self, *shape):
    return _C.expand(self, sizes(shape, "expand"))


def t_repeat(self, *reps):
    reps = sizes(reps, "repeat")
    if len(reps) < self.ndim:
        raise ValueError("repeat: the number of repeats can not be smaller than the tensor's "
                         "dimensions")
    shape = [1] * (len(reps) - self.ndim) + list(self.shape)
    # (a, b) repeated (r, s): view (1, a, 1, b), expand to (r, a, s, b), merge pairs.
    inter, target, final = [], [], []
    for r, s in zip(reps, shape):
        inter += [1, s]
        target += [r, s]
        final.append(r * s)
    return _C.reshape(_C.expand(_reshape(self, inter), target), final)


def t_flip(self, *dims):
    dims = {_dim(d, self.ndim, "flip") for d in sizes(dims, "flip")}
    strides = contiguous_strides(self.shape)
    offset = 0
    out_strides = []
    for i, (n, st) in enumerate(zip(self.shape, strides)):
        if i in dims and n > 0:
            offset += (n - 1) * st
            out_strides.append(-st)
        else:
            out_strides.append(st)
    return link_strided(_C.strided(self, list(self.shape), out_strides, offset), self,
                        self.shape, out_strides, offset)


def contiguous_strides(shape):
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return strides[::-1]


def t_narrow(self, dim, start, length):
    d = _dim(dim, self.ndim, "narrow")
    key = [slice(None)] * d + [slice(start, start + length)]
    return self[tuple(key)]


def t_split(self, split_size_or_sections, dim=0):
    d = _dim(dim, self.ndim, "split")
    n = self.shape[d]
    if isinstance(split_size_or_sections, numbers.Integral):
        size = builtins.int(split_size_or_sections)
        bounds = list(range(0, n, size)) if n else [0]
        lengths = [builtins.min(size, n - b) for b in bounds]
    else:
        lengths = [builtins.int(s) for s in split_size_or_sections]
        if builtins.sum(lengths) != n:
            raise ValueError(f"split: sections {lengths} do not add up to the dim's size {n}")
    out, at = [], 0
    for length in lengths:
        out.append(t_narrow(self, d, at, length))
        at += length
    return tuple(out)


def t_chunk(self, chunks, dim=0):
    d = _dim(dim, self.ndim, "chunk")
    n = self.shape[d]
    size = -(-n // builtins.int(chunks)) if n else 1
    return t_split(self, builtins.max(size, 1), d)


def t_unbind(self, dim=0):
    d = _dim(dim, self.ndim, "unbind")
    return tuple(self[(slice(None),) * d + (i,)] for i in range(self.shape[d]))


def install(T) -> None:
    T.view = t_view
    T.reshape = lambda self, *shape: _reshape(self, sizes(shape, "reshape"))
    T.view_as = lambda self, other: _reshape(self, list(other.shape))
    T.reshape_as = T.view_as
    T.unsqueeze = t_unsqueeze
    T.squeeze = t_squeeze
    T.flatten = t_flatten
    T.ravel = lambda self: t_flatten(self)
    T.unflatten = t_unflatten
    T.permute = t_permute
    T.transpose = T.swapaxes = T.swapdims = t_transpose
    T.t = t_t
    T.T = property(t_T)
    T.mT = property(t_mT)
    T.expand = t_expand
    T.expand_as = lambda self, other: _C.expand(self, list(other.shape))
    T.broadcast_to = lambda self, shape: _C.expand(self, sizes((shape,), "broadcast_to"))
    T.repeat = t_repeat
    T.flip = t_flip
    T.narrow = t_narrow
    T.split = t_split
    T.chunk = t_chunk
    T.unbind = t_unbind
    T.contiguous = lambda self, memory_format=None: self
    T.is_contiguous = lambda self, memory_format=None: True
