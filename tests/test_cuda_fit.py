"""fit / evaluate / predict on a model moved to a CUDA device, against the same calls on the
CPU: the dataset is uploaded once, batches are gathered on the device, the loss and the
accuracies accumulate there, and a replayed epoch reads nothing back until its end.

These run wherever ``fn.cuda.is_available()``: on a GPU (the CUDA kernels), and on the
host-emulated devices of ``FASTNN_EMULATE_CUDA=1`` (CI, without a GPU: every path above the
kernels). Losses and weights are compared at float32 kernel tolerance on a GPU (its sums run
in another order) and must be equal on the emulated device (the same kernels)."""

import numpy as np
import pytest

import fastnn as fn
from fastnn import _C, layers, nn
from fastnn.capture import StepCapture

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not fn.cuda.is_available(), reason="no CUDA device")]

EMULATED = "emulated" in fn.cuda.get_device_name(0) if fn.cuda.is_available() else False
RTOL = 0.0 if EMULATED else 2e-4


def _data(n=203, features=12, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(np.float32)
    y = (x[:, :classes].argmax(1) + (rng.random(n) < 0.1)) % classes
    return x, y.astype(np.int64)


def _mlp(seed, dropout=0.0, batch_norm=False):
    fn.manual_seed(seed)
    stack = [layers.Input((12,)), layers.Dense(16, activation="relu")]
    if batch_norm:
        stack.append(layers.BatchNormalization())
    if dropout:
        stack.append(layers.Dropout(dropout))
    stack.append(layers.Dense(5, activation="softmax"))
    return fn.Sequential(stack)


def _close(got, want):
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=RTOL,
                                   atol=RTOL * max(1.0, float(np.abs(w).max())))


def _fit_both(make, compile_args, fit_args, x, y, seed=3):
    """The same fit on the CPU and on cuda: (history, weights, model) for each."""
    out = []
    for device in ("cpu", "cuda"):
        model = make()
        model.to(device)
        model.compile(**compile_args)
        fn.manual_seed(seed)
        history = model.fit(x, y, verbose=0, **fit_args)
        out.append((history.history, model.get_weights(), model))
    return out


@pytest.mark.parametrize("capture", [True, False])
@pytest.mark.parametrize("layers_kind", ["plain", "dropout+batchnorm"])
def test_fit_on_a_device_trains_as_on_the_cpu(capture, layers_kind):
    x, y = _data()
    extra = {"dropout": 0.3, "batch_norm": True} if layers_kind != "plain" else {}
    # Dropout draws from the generator of its device, shuffling from the CPU's (as PyTorch's
    # generators): both fits draw the same masks only where the CPU's draws no orders.
    (h_cpu, w_cpu, _), (h_dev, w_dev, model) = _fit_both(
        lambda: _mlp(1, **extra),
        dict(optimizer="adam", loss="sparse_categorical_crossentropy",
             metrics=["accuracy"], capture=capture),
        dict(epochs=3, batch_size=32, validation_split=0.2, shuffle=not extra), x, y)
    assert h_dev.keys() == h_cpu.keys() == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key in h_cpu:
        _close(h_dev[key], h_cpu[key])
    _close(w_dev, w_cpu)
    assert all(w.device == "cuda:0" for w in model.weights)
    if capture:  # the device step was captured and replayed, not run eagerly
        assert len(model._captured) >= 1 and not model._captured.refused


def test_evaluate_and_predict_on_a_device_match_the_cpu():
    x, y = _data(seed=1)
    models = []
    for device in ("cpu", "cuda"):
        model = _mlp(2)
        model.to(device)
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy", "sparse_top_k_categorical_accuracy"])
        models.append(model)
    cpu, dev = models
    _close([dev.evaluate(x, y, batch_size=17)], [cpu.evaluate(x, y, batch_size=17)])
    _close([dev.predict(x, batch_size=40)], [cpu.predict(x, batch_size=40)])
    _close([dev.predict_on_batch(x[:9])], [cpu.predict_on_batch(x[:9])])
    _close([dev.test_on_batch(x[:9], y[:9])], [cpu.test_on_batch(x[:9], y[:9])])
    _close([dev.train_on_batch(x[:9], y[:9])], [cpu.train_on_batch(x[:9], y[:9])])
    _close(dev.get_weights(), cpu.get_weights())


def test_sample_weights_a_numpy_metric_and_batch_callbacks_on_a_device():
    x, y = _data(seed=2)
    w = np.random.default_rng(2).random(len(x)).astype(np.float32)
    seen = {"cpu": [], "cuda": []}

    def top_class_share(y_true, y_pred):  # a metric numpy computes: reads each batch
        return (np.asarray(y_pred).argmax(-1) == 0).astype(np.float64)

    results = {}
    for device in ("cpu", "cuda"):
        model = _mlp(4)
        model.to(device)
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy", top_class_share], weighted_metrics=["accuracy"])
        fn.manual_seed(5)
        cb = fn.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs, d=device: seen[d].append(logs["loss"]))
        h = model.fit(x, y, sample_weight=w, batch_size=25, epochs=2, verbose=0,
                      callbacks=[cb], class_weight=None)
        results[device] = (h.history, model.get_weights())
    for key in results["cpu"][0]:
        _close(results["cuda"][0][key], results["cpu"][0][key])
    _close(results["cuda"][1], results["cpu"][1])
    _close(seen["cuda"], seen["cpu"])


def test_a_dataloader_feeds_a_device_model_batch_by_batch():
    x, y = _data(seed=3)
    out = []
    for device in ("cpu", "cuda"):
        model = _mlp(6)
        model.to(device)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        loader = fn.utils.data.DataLoader(fn.utils.data.TensorDataset(x, y), batch_size=30,
                                          shuffle=False)
        h = model.fit(loader, epochs=2, verbose=0)
        out.append((h.history, model.get_weights(), model.evaluate(loader)))
    _close([out[1][0]["loss"], out[1][0]["accuracy"]], [out[0][0]["loss"], out[0][0]["accuracy"]])
    _close(out[1][1], out[0][1])
    _close(out[1][2], out[0][2])


def test_a_replayed_epoch_on_a_device_reads_nothing_back_until_its_end(monkeypatch):
    # Host reads per fit must not grow with the number of steps: the dataset goes up once,
    # each replayed run gathers its batches on the device, and the totals are read at the
    # epoch's end (and by the progress display, which verbose=0 does not show).
    counts, replays = [], []
    replay_batches = StepCapture.replay_batches

    def counted(self, *args, **kwargs):
        replays.append(args[1][0])  # the dataset's x: a tensor on the device
        return replay_batches(self, *args, **kwargs)

    monkeypatch.setattr(StepCapture, "replay_batches", counted)
    for n in (256, 2048):
        x, y = _data(n=n, seed=4)
        model = _mlp(7)
        model.to("cuda")
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        model.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0)  # captures the plan
        before, replays[:] = _C.host_read_count(), []
        model.fit(x, y, batch_size=32, epochs=2, verbose=0)
        counts.append(_C.host_read_count() - before)
    assert counts[0] == counts[1], counts
    assert counts[0] <= 2 * 5, counts  # per epoch: the totals, the accuracy, the error flags
    # Whole epochs ran in one call each, from the dataset uploaded once.
    assert len(replays) == 2 and all(isinstance(x, _C.Tensor) and x.device == "cuda:0"
                                     for x in replays)


def test_pytorch_style_module_fits_on_a_device():
    x, y = _data(seed=5)
    out = []
    for device in ("cpu", "cuda"):
        fn.manual_seed(8)
        net = nn.Sequential(nn.Linear(12, 20), nn.ReLU(), nn.Dropout(0.2), nn.Linear(20, 5))
        net.to(device)
        net.compile(optimizer=fn.optim.SGD(net.parameters(), lr=0.1, momentum=0.9),
                    loss=nn.CrossEntropyLoss(), metrics=["accuracy"])
        fn.manual_seed(9)
        h = net.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)  # see above
        out.append((h.history, [p.numpy() for p in net.parameters()]))
    for key in out[0][0]:
        _close(out[1][0][key], out[0][0][key])
    _close(out[1][1], out[0][1])


def test_a_functional_model_with_two_inputs_and_outputs_fits_on_a_device():
    keras = fn.keras
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((90, 4)).astype(np.float32), rng.standard_normal((90, 3)).astype(np.float32)
    ya, yb = (a.sum(1) > 0).astype(np.float32)[:, None], rng.standard_normal((90, 2)).astype(np.float32)
    out = []
    for device in ("cpu", "cuda"):
        fn.manual_seed(10)
        ia, ib = keras.Input((4,)), keras.Input((3,))
        shared = keras.layers.Dense(8, activation="tanh")
        h = keras.layers.concatenate([shared(keras.layers.Dense(8)(ia)),
                                      shared(keras.layers.Dense(8)(ib))])
        model = keras.Model([ia, ib], [keras.layers.Dense(1, activation="sigmoid", name="cls")(h),
                                       keras.layers.Dense(2, name="reg")(h)])
        model.to(device)
        model.compile(optimizer="adam", loss=["binary_crossentropy", "mse"],
                      metrics=[["accuracy"], []])
        fn.manual_seed(11)
        hist = model.fit([a, b], [ya, yb], epochs=2, batch_size=20, verbose=0)
        out.append((hist.history, model.get_weights(),
                    model.predict([a, b], batch_size=32)))
    assert out[1][0].keys() == out[0][0].keys()
    for key in out[0][0]:
        _close(out[1][0][key], out[0][0][key])
    _close(out[1][1], out[0][1])
    _close(out[1][2], out[0][2])


def test_a_device_model_saves_loads_and_clips_as_on_the_cpu(tmp_path):
    # Everything that moves weights, optimizer state or gradients through numpy: checkpoints,
    # save/load, get/set_weights, state_dict round trips, Keras's gradient clipping.
    x, y = _data(seed=7)
    results = {}
    for device in ("cpu", "cuda"):
        model = _mlp(12, dropout=0.2, batch_norm=True)
        model.to(device)
        model.compile(optimizer=fn.optimizers.Adam(1e-2, clipnorm=0.5),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        path = tmp_path / f"{device}.fastnn"
        fn.manual_seed(13)
        h = model.fit(x, y, epochs=2, batch_size=32, verbose=0, shuffle=False,
                      callbacks=[fn.callbacks.ModelCheckpoint(str(path))])
        loaded = fn.load_model(str(path))
        model.set_weights(model.get_weights())
        model.load_state_dict(model.state_dict())
        opt_state = model.optimizer.get_config()
        model.save_weights(str(tmp_path / f"{device}.safetensors"))
        model.load_weights(str(tmp_path / f"{device}.safetensors"))
        assert all(w.device == model.weights[0].device for w in model.weights)
        results[device] = (h.history, model.get_weights(), loaded.predict(x, verbose=0),
                           opt_state)
    cpu, dev = results["cpu"], results["cuda"]
    for key in cpu[0]:
        _close(dev[0][key], cpu[0][key])
    _close(dev[1], cpu[1])
    _close([dev[2]], [cpu[2]])
    assert dev[3] == cpu[3]


def test_pytorch_module_state_and_dtype_moves_on_a_device():
    fn.manual_seed(14)
    net = nn.Sequential(nn.Linear(12, 7), nn.ReLU(), nn.Linear(7, 5))
    reference = [p.numpy().copy() for p in net.parameters()]
    net.to("cuda").double()
    assert all(p.device == "cuda:0" and p.dtype == "float64" for p in net.parameters())
    _close([p.numpy() for p in net.parameters()], reference)
    opt = fn.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x = fn.tensor(np.ones((3, 12)), dtype="float64", device="cuda")
    net(x).sum().backward()
    opt.step()
    state = opt.state_dict()
    opt.load_state_dict(state)
    net.load_state_dict(net.state_dict())
    emb = nn.Embedding.from_pretrained(fn.tensor(np.eye(4), device="cuda"))
    assert emb.weight.shape == (4, 4)
