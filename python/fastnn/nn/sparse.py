"""PyTorch's ``nn.Embedding`` and its functional forms ``F.embedding`` and ``F.one_hot``.

The lookup is fastnn's embedding op (one gather forward, a deterministic scatter-add of the
rows backward). ``padding_idx`` keeps its row's gradient at zero by reading that row through
a detached copy of the output where the ids equal it (a select on the output, not a pass
over the table), so the table row itself may hold any value, as in PyTorch.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import _C
from ..functional import ids_tensor
from ..initializers import _normal
from ..layers.base import Layer
from ..tensor import Tensor, arange, to_host
from ..tensor_functions import where
from .linear import positive_int
from .module import Module, dtype_name

_ID_DTYPES = ("int32", "int64")


def _ids(input, who):  # noqa: A002 - torch's argument name
    """``input`` as an int32/int64 tensor of ids; float ids are refused, as torch does."""
    if isinstance(input, Tensor):
        dtype = input.dtype
    else:
        dtype = np.asarray(input).dtype
        if dtype.kind in "iu":
            return ids_tensor(input, who)
        dtype = dtype.name
    if dtype not in _ID_DTYPES:
        raise TypeError(f"{who}: expected the indices to be an int64 or int32 tensor, got "
                        f"{dtype}")
    return input


def _padding_index(padding_idx, num_embeddings, who):
    """torch's rule: None, or an int in [-num, num), negative counting from the end."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral) or \
            not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{who}: expected padding_idx to be None or an integer in "
                         f"[{-num_embeddings}, {num_embeddings}) (within num_embeddings), "
                         f"got {padding_idx!r}")
    return int(padding_idx) % num_embeddings


def _refuse_unsupported(who, max_norm, scale_grad_by_freq, sparse):
    if max_norm is not None:
        raise NotImplementedError(f"{who}: max_norm (renormalising the looked-up rows in "
                                  f"place) is not implemented in fastnn, got {max_norm!r}")
    if scale_grad_by_freq:
        raise NotImplementedError(f"{who}: scale_grad_by_freq=True is not implemented in "
                                  "fastnn")
    if sparse:
        raise NotImplementedError(f"{who}: sparse=True (sparse gradients) is not implemented "
                                  "in fastnn; its dense gradient adds the rows of the ids")


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,  # noqa: A002
              scale_grad_by_freq=False, sparse=False):
    """``F.embedding``: rows of ``weight`` (num, dim) at the int ids ``input`` of any shape,
    giving input.shape + (dim,); the row ``padding_idx`` gets no gradient."""
    _refuse_unsupported("embedding", max_norm, scale_grad_by_freq, sparse)
    return _lookup(input, weight, padding_idx, "embedding")


def _lookup(input, weight, padding_idx, who):  # noqa: A002
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        raise ValueError(f"{who}: expected weight to be a 2-D tensor (num_embeddings, "
                         f"embedding_dim), got {getattr(weight, 'shape', type(weight).__name__)}")
    ids = _ids(input, who)
    out = _C.embedding(weight, ids, who)  # ids.shape + (dim,)
    padding_idx = _padding_index(padding_idx, weight.shape[0], who)
    if padding_idx is None or not out.requires_grad:
        return out
    # Where an id is padding_idx, the detached output: its gradient reaches no row.
    return where((ids == padding_idx).unsqueeze(-1), out.detach(), out)


def one_hot(tensor, num_classes=-1):
    """``F.one_hot``: int64 ids (...) -> int64 (..., num_classes) with a 1 at each id;
    num_classes=-1 takes the largest id + 1 (a read of the ids, as torch does)."""
    who = "one_hot"
    ids = _ids(tensor, who)
    if ids.dtype != "int64":
        raise TypeError(f"{who}: expected an int64 tensor of class values, got {ids.dtype}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise TypeError(f"{who}: expected num_classes to be an integer, got {num_classes!r}")
    values = ids.numpy() if ids.numel() else np.zeros((0,), np.int64)
    if values.size and values.min() < 0:
        raise ValueError(f"{who}: class values must be non-negative, got {values.min()}")
    if num_classes == -1:
        if not values.size:
            raise ValueError(f"{who}: cannot infer num_classes from an empty tensor; pass it")
        num_classes = int(values.max()) + 1
    elif num_classes < 1:
        raise ValueError(f"{who}: expected num_classes to be -1 or positive, got {num_classes}")
    elif values.size and values.max() >= num_classes:
        raise ValueError(f"{who}: class values must be smaller than num_classes "
                         f"({num_classes}), got {values.max()}")
    classes = arange(num_classes, device=ids.device)
    return (ids.unsqueeze(-1) == classes).long()


class Embedding(Module):
    """``nn.Embedding(num_embeddings, embedding_dim, padding_idx=None, ...)``: a table weight
    (num_embeddings, embedding_dim) drawn from N(0, 1), PyTorch's initialisation, with the
    row padding_idx zeroed; ids (int64/int32 tensors or integer arrays, any shape) give
    ids.shape + (embedding_dim,). Ids out of range raise IndexError, as in PyTorch.
    max_norm, scale_grad_by_freq and sparse=True raise NotImplementedError."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None):
        who = "Embedding"
        _refuse_unsupported(who, max_norm, scale_grad_by_freq, sparse)
        table = None if _weight is None else _array(_weight)
        if dtype is None and table is not None and table.dtype == np.float64:
            dtype = "float64"
        super().__init__(dtype=dtype_name(dtype, who))
        self.num_embeddings = positive_int(num_embeddings, who, "num_embeddings")
        self.embedding_dim = positive_int(embedding_dim, who, "embedding_dim")
        self.padding_idx = _padding_index(padding_idx, self.num_embeddings, who)
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = False, False
        shape = (self.num_embeddings, self.embedding_dim)
        if table is None:
            initial = self._initial_table
        else:
            if table.shape != shape:
                raise ValueError(f"{who}: expected _weight of shape {shape} (num_embeddings, "
                                 f"embedding_dim), got {table.shape}")
            initial = lambda shape, dtype: table.astype(dtype)  # noqa: E731
        self.weight = self.add_weight("weight", shape, initial)
        if _freeze:
            _freeze_weight(self.weight)
        if device is not None:
            self.to(device)

    def _initial_table(self, shape, dtype):
        table = _normal(shape, 1.0)
        if self.padding_idx is not None:
            table[self.padding_idx] = 0.0
        return table.astype(dtype)

    def reset_parameters(self):
        """Redraws the table from N(0, 1), the padding row zeroed (torch's method)."""
        table = self._initial_table(tuple(self.weight.shape), self.weight.dtype)
        self.weight.data.copy_(_C.from_numpy(table, self.weight.dtype))

    def _takes_ids(self):
        return True

    def _convert_input(self, inputs):
        # Integer arrays become id tensors on the table's device (Layer's rule for
        # _takes_ids); float arrays are refused here rather than cast to the table's dtype,
        # and tensors reach forward as they are.
        if isinstance(inputs, Tensor):
            return inputs
        array = np.asarray(inputs)
        if array.dtype.kind not in "iu":
            _ids(array, "Embedding")  # raises the TypeError
        return Layer._convert_input(self, array)

    def forward(self, input):  # noqa: A002
        return _lookup(input, self.weight, self.padding_idx, "Embedding")

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False):
        """An Embedding holding a copy of ``embeddings`` (num, dim) as its table (the padding
        row kept as given); freeze=True leaves it out of training (requires_grad False, and
        not among parameters(), so optimizers and fit skip it)."""
        table = _array(embeddings)
        if table.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: expected embeddings to be 2-D "
                             f"(num_embeddings, embedding_dim), got shape {table.shape}")
        return cls(table.shape[0], table.shape[1], padding_idx, max_norm, norm_type,
                   scale_grad_by_freq, sparse, _weight=table, _freeze=freeze)

    def extra_repr(self):
        out = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            out += f", padding_idx={self.padding_idx}"
        return out


def _array(table):
    """A fastnn or torch tensor (a Parameter too) or an array-like as a numpy array."""
    return to_host(table.detach() if hasattr(table, "detach") else table)


def _freeze_weight(weight):
    """A table that does not train: no gradient, and not among the trainable weights."""
    weight.requires_grad = False
    weight._trainable = False


__all__ = ["Embedding"]
FUNCTIONAL = ["embedding", "one_hot"]
