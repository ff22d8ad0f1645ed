"""The CUDA backend's recurrent kernels (cuda/rnn.cu) against the CPU backend's on the same
inputs: the rnn op (rnn_forward and rnn_backward, which run the LSTM, GRU and SimpleRNN cell
kernels once per step, and swap_leading_axes around them) for every cell, forward outputs
and every gradient, with and without bias and initial states, masks (leading, inner and
trailing masked steps, a fully masked row), go_backwards in processing and in input order
(Bidirectional's), recurrent dropout masks, each output alone, float32 and float64, odd
sizes; step_mask for every input dtype; and run-to-run determinism.

Tolerances: float64 1e-12 relative to the array's scale (cuBLAS and OpenBLAS sum the GEMMs
in different orders). float32 1e-5: besides the GEMM order, the GPU's expf/tanhf and the
CPU's vectorised exp/tanh (math/exp.h) differ by an ulp or two, and the differences of every
step compound through the recurrence (T steps) and the gradients' sums over all steps (the
CPU's own float32 results stay within 1e-6 of float64 on these inputs)."""

import numpy as np
import pytest

import fastnn as fn
from fastnn import _C

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not fn.cuda.is_available(), reason="no CUDA device")]

N, T, F, U = 5, 7, 3, 9  # odd sizes, none equal
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}
TOL = {"float64": 1e-12, "float32": 1e-5}
# Cells as parametrize ids: 'simple_rnn-relu' is a SimpleRNN with that activation.
CELLS = ["lstm", "gru"] + [f"simple_rnn-{a}" for a in ("tanh", "relu", "sigmoid", "linear")]
# Rows: nothing masked, the first steps masked (h0 carried), holes, everything masked (the
# state passes straight through), trailing padding.
MASK = np.array([[1, 1, 1, 1, 1, 1, 1],
                 [0, 0, 1, 1, 1, 1, 1],
                 [1, 0, 1, 0, 0, 1, 1],
                 [0, 0, 0, 0, 0, 0, 0],
                 [1, 1, 1, 0, 0, 0, 0]], np.float64)


def split(case):
    """'simple_rnn-relu' -> ('simple_rnn', 'relu'); 'gru' -> ('gru', 'tanh')."""
    cell, _, activation = case.partition("-")
    return cell, activation or "tanh"


def close(got, want, dtype, what):
    want = np.asarray(want, np.float64)
    scale = max(1.0, float(np.abs(want).max())) if want.size else 1.0
    tol = TOL[dtype]
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=tol, atol=tol * scale,
                               err_msg=what)


def draw(rng, cell, n=N, steps=T, features=F, units=U):
    G = GATES[cell] * units
    return dict(x=rng.standard_normal((n, steps, features)),
                W=rng.standard_normal((features, G)) * 0.4,
                R=rng.standard_normal((units, G)) * 0.4,
                b=rng.standard_normal((2, G) if cell == "gru" else G) * 0.4,
                h0=rng.standard_normal((n, units)), c0=rng.standard_normal((n, units)),
                recurrent_mask=(rng.random((n, units)) > 0.3) / 0.7,
                w_seq=rng.standard_normal((n, steps, units)),
                w_h=rng.standard_normal((n, units)), w_c=rng.standard_normal((n, units)))


def run(device, dtype, cell, activation, a, *, bias=False, state=False, state_grad=True,
        mask=None, recurrent_mask=False, go_backwards=False, in_input_order=False,
        return_sequences=True, use=("seq", "h", "c")):
    """The rnn op on ``device``: (outputs, gradients), numpy copies. The loss is the sum of
    each used output times its weights in ``a``; gradients of every input that requires one."""
    def put(name, grad=True):
        return fn.tensor(a[name], dtype=dtype, device=device, requires_grad=grad)

    leaves = {"x": put("x"), "W": put("W"), "R": put("R")}
    if bias:
        leaves["b"] = put("b")
    h0 = c0 = None
    if state:
        h0 = put("h0", state_grad)
        c0 = put("c0", state_grad) if cell == "lstm" else None
        if state_grad:
            leaves["h0"] = h0
            if c0 is not None:
                leaves["c0"] = c0
    m = None if mask is None else fn.tensor(mask, dtype=dtype, device=device)
    rm = fn.tensor(a["recurrent_mask"], dtype=dtype, device=device) if recurrent_mask else None
    outs = _C.rnn(cell, leaves["x"], leaves["W"], leaves["R"], leaves.get("b"), h0, c0, m,
                  activation, go_backwards, in_input_order, return_sequences, "RNN", rm)
    loss = None
    for out, name, weight in zip(outs, ("seq", "h", "c"), ("w_seq", "w_h", "w_c")):
        if out is None or name not in use:
            continue
        term = (out * fn.tensor(a[weight], dtype=dtype, device=device)).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    values = [None if o is None else np.array(o.numpy()) for o in outs]
    grads = {k: np.array(t.grad.numpy()) for k, t in leaves.items()}
    return values, grads


def compare(dtype, case, seed=0, sizes=(), **options):
    cell, activation = split(case)
    a = draw(np.random.default_rng(seed), cell, *sizes)
    want, want_grads = run("cpu", dtype, cell, activation, a, **options)
    got, got_grads = run("cuda", dtype, cell, activation, a, **options)
    for g, w, name in zip(got, want, ("sequence", "h_last", "c_last")):
        assert (g is None) == (w is None), name
        if w is not None:
            close(g, w, dtype, name)
    assert got_grads.keys() == want_grads.keys()
    for name in want_grads:
        close(got_grads[name], want_grads[name], dtype, f"d{name}")
    return got, got_grads


# The option sets: plain; bias and states; reversed; masked; Bidirectional's backward half
# (reversed, in input order) masked; recurrent dropout with and without h0 (without, step 0
# skips its GEMM); the last state only (no sequence gradient); the sequence only (no last
# state gradient); h0 given but not differentiated (step 0's GEMM skipped in the backward).
OPTIONS = {
    "plain": dict(),
    "bias-state": dict(bias=True, state=True),
    "backwards": dict(bias=True, state=True, go_backwards=True),
    "mask": dict(bias=True, state=True, mask=MASK),
    "mask-backwards-input-order": dict(bias=True, mask=MASK, go_backwards=True,
                                       in_input_order=True),
    "recurrent-dropout": dict(bias=True, state=True, recurrent_mask=True),
    "recurrent-dropout-mask-no-state": dict(bias=True, recurrent_mask=True, mask=MASK),
    "last-state-only": dict(bias=True, state=True, return_sequences=False),
    "sequence-only": dict(bias=True, state=True, mask=MASK, use=("seq",)),
    "state-without-grad": dict(bias=True, state=True, state_grad=False, recurrent_mask=True),
}


@pytest.mark.parametrize("options", list(OPTIONS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CELLS)
def test_rnn_matches_cpu(case, dtype, options):
    compare(dtype, case, **OPTIONS[options])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", ["lstm", "gru", "simple_rnn-tanh"])
def test_rnn_matches_cpu_at_sizes_over_a_block(case, dtype):
    # N * U and T * N * F beyond one block of 256 threads; one step and one sample too.
    compare(dtype, case, seed=1, sizes=(67, 4, 11, 37), bias=True, state=True,
            recurrent_mask=True)
    compare(dtype, case, seed=2, sizes=(1, 1, 2, 3), bias=True, state=True)


@pytest.mark.parametrize("case", ["lstm", "gru", "simple_rnn-relu"])
def test_masked_steps_are_exact(case):
    # Masked steps output exactly zero, take no input gradient, and a fully masked row
    # passes h0 (and its gradient) through unchanged, as on the CPU.
    cell, _ = split(case)
    got, grads = compare("float64", case, seed=3, bias=True, state=True, mask=MASK)
    a = draw(np.random.default_rng(3), cell)
    assert not got[0][MASK == 0].any()
    assert not grads["x"][MASK == 0].any()
    np.testing.assert_array_equal(got[1][3], a["h0"][3])
    np.testing.assert_array_equal(grads["h0"][3], a["w_h"][3])


@pytest.mark.parametrize("case", ["lstm", "gru", "simple_rnn-tanh"])
def test_rnn_is_deterministic(case):
    cell, activation = split(case)
    a = draw(np.random.default_rng(4), cell, 33, 6, 5, 17)
    options = dict(bias=True, state=True, recurrent_mask=True, mask=None)
    first = run("cuda", "float32", cell, activation, a, **options)
    second = run("cuda", "float32", cell, activation, a, **options)
    for g, w in zip(first[0], second[0]):
        if w is not None:
            np.testing.assert_array_equal(g, w)
    for name in first[1]:
        np.testing.assert_array_equal(first[1][name], second[1][name])


@pytest.mark.parametrize("out_dtype", ["float32", "float64"])
@pytest.mark.parametrize("x_dtype", ["float32", "float64", "int32", "int64"])
@pytest.mark.parametrize("shape", [(4, 5, 3), (4, 5), (3, 4, 2, 3), (3, 0, 2)])
def test_step_mask_matches_cpu(shape, x_dtype, out_dtype):
    rng = np.random.default_rng(5)
    value = 0.0 if x_dtype.startswith("int") else -1.5
    x = rng.integers(-2, 3, shape).astype(np.float64)
    if x.size:
        x.reshape(shape[0], shape[1], -1)[0, 2] = value  # whole steps equal to the value
        x.reshape(shape[0], shape[1], -1)[2, 1:] = value
        x.reshape(shape[0], shape[1], -1)[1, 0, 0] = value  # one element only: kept
    if x_dtype.startswith("float") and x.size:
        x.reshape(shape[0], shape[1], -1)[3 % shape[0], 0] = np.nan  # NaN differs from value
    x = x.astype(x_dtype)
    want = np.array(_C.step_mask(fn.tensor(x, dtype=x_dtype), value, out_dtype, "M").numpy())
    got = _C.step_mask(fn.tensor(x, dtype=x_dtype, device="cuda"), value, out_dtype, "M")
    assert got.dtype == out_dtype and got.device.startswith("cuda")
    np.testing.assert_array_equal(np.array(got.numpy()), want)
