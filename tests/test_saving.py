"""Saving and loading (fastnn.saving): model.save / fn.load_model, save_weights /
load_weights, the registry for custom classes, ModelCheckpoint.

What a test expects comes from the model that was saved (its predictions, weights,
optimizer state, its own further training), never from numbers recorded from a run. Files
are rewritten for the damage tests with the checksum as the module docstring of
fastnn.saving specifies it, implemented again here from that text.
"""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import safetensors.numpy as st
from safetensors import safe_open

import fastnn as fn
from fastnn import layers, losses, optim, optimizers
from fastnn.callbacks import ModelCheckpoint, _Callbacks
from fastnn.saving import register_serializable

RNG = np.random.default_rng(20240611)
N = 40


def features(*shape, dtype=np.float32):
    return RNG.standard_normal((N,) + shape).astype(dtype)


def ids(steps, vocabulary):
    out = RNG.integers(1, vocabulary, (N, steps))
    for row, length in enumerate(RNG.integers(2, steps + 1, N)):
        out[row, :steps - length] = 0  # pre-padding, as pad_sequences
    return out


LABELS = RNG.integers(0, 3, N)


# --- custom classes, registered -----------------------------------------------------------------

@register_serializable(package="TestSaving")
def scaled_tanh(x):
    return fn.tanh(x) * 1.5


@register_serializable(package="TestSaving")
class Scale(layers.Layer):
    """A custom layer with a weight and a constructor argument."""

    def __init__(self, init=2.0, **kwargs):
        super().__init__(**kwargs)
        self.init = init

    def build(self, input_shape):
        self.factor = self.add_weight("factor", (int(input_shape[-1]),), "ones")
        np.asarray(self.factor)[...] = self.init
        self.built = True

    def call(self, inputs):
        return inputs * self.factor

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "init": self.init}


@register_serializable(package="TestSaving")
class Tower(fn.Model):
    """Keras-style subclassed model with constructor arguments, a nested Sequential, a
    list of layers and a parameter held directly."""

    def __init__(self, width=8, depth=2, **kwargs):
        super().__init__(**kwargs)
        self.width, self.depth = width, depth
        self.stem = layers.Dense(width, activation="relu")
        self.blocks = [layers.Dense(width, activation="tanh") for _ in range(depth)]
        self.head = fn.Sequential([layers.Dropout(0.25), layers.Dense(3)])
        self.shift = fn.Parameter(RNG.standard_normal(3).astype(np.float32))

    def call(self, x, training=False):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x, training=training) + self.shift

    def get_config(self):
        return {**super().get_config(), "width": self.width, "depth": self.depth}


@register_serializable(package="TestSaving")
class Plain(fn.Model):
    """PyTorch-style, no constructor arguments and no get_config of its own."""

    def __init__(self):
        super().__init__()
        self.conv = layers.Conv1D(4, 3, activation="relu")
        self.out = layers.Dense(3)

    def forward(self, x):
        return self.out(fn.flatten(self.conv(x)))


class Unregistered(fn.Model):
    def __init__(self):
        super().__init__()
        self.d = layers.Dense(3)

    def call(self, x):
        return self.d(x)


@register_serializable(package="TestSaving")
class NeedsArguments(fn.Model):
    """Has a required constructor argument but keeps the default get_config."""

    def __init__(self, units):
        super().__init__()
        self.d = layers.Dense(units)

    def call(self, x):
        return self.d(x)


@register_serializable(package="TestSaving")
class Halving:
    """A learning-rate schedule: halves every ``every`` steps."""

    def __init__(self, initial, every):
        self.initial, self.every = initial, every

    def __call__(self, step):
        return self.initial * 0.5 ** (step // self.every)

    def get_config(self):
        return {"initial": self.initial, "every": self.every}


# --- architectures ------------------------------------------------------------------------------

ARCHITECTURES = {
    "dense": (lambda: fn.Sequential([
        layers.Dense(16, activation="relu", kernel_regularizer=fn.regularizers.L2(1e-3)),
        layers.Dropout(0.2), layers.Dense(9, activation=fn.leaky_relu), layers.Dense(3)],
        input_shape=(7,)), lambda: features(7)),
    "conv_bn": (lambda: fn.Sequential([
        layers.Conv2D(4, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
        layers.BatchNormalization(momentum=0.5), layers.Flatten(), layers.Dense(3)],
        input_shape=(6, 6, 2)), lambda: features(6, 6, 2)),
    "embedding_lstm_gru": (lambda: fn.Sequential([  # no input_shape: built by the first call
        layers.Embedding(20, 5, mask_zero=True), layers.LSTM(6, return_sequences=True),
        layers.GRU(4), layers.Dense(3)]), lambda: ids(9, 20)),
    "bidirectional": (lambda: fn.Sequential([
        layers.Bidirectional(layers.LSTM(5, return_sequences=True)),
        layers.Bidirectional(layers.GRU(3), merge_mode="sum"), layers.Dense(3)],
        input_shape=(6, 4)), lambda: features(6, 4)),
    "masking_simple_rnn_custom": (lambda: fn.Sequential([
        layers.Masking(), layers.SimpleRNN(5, activation="relu"), Scale(0.5),
        layers.Dense(4, activation=scaled_tanh), layers.Reshape((2, 2)), layers.Flatten(),
        layers.Dense(3)], input_shape=(6, 4)), lambda: features(6, 4)),
    "float64": (lambda: fn.Sequential([
        layers.Dense(9, activation="tanh", dtype="float64"),
        layers.BatchNormalization(dtype="float64"), layers.Dense(3, dtype="float64")],
        input_shape=(7,), dtype="float64"), lambda: features(7, dtype=np.float64)),
    "subclassed": (lambda: Tower(width=6, depth=3), lambda: features(7)),
    "subclassed_pytorch_style": (Plain, lambda: features(5, 2)),
}


def compiled(make, seed=0, optimizer=None):
    fn.manual_seed(seed)
    model = make()
    model.compile(optimizer=optimizer or optimizers.Adam(learning_rate=0.01),
                  loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def predictions(model, x):
    return model.predict(x, batch_size=16)


def assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert sa[key].dtype == sb[key].dtype, key
        np.testing.assert_array_equal(sa[key], sb[key], err_msg=key)


def plain(config):
    """A config with objects (regularizers, ...) as (class, their config), to compare."""
    if isinstance(config, dict):
        return {k: plain(v) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return type(config)(plain(v) for v in config)
    if hasattr(config, "get_config") and not isinstance(config, type):
        return type(config), plain(config.get_config())
    return config


def optimizer_state(model):
    opt = model.optimizer
    state = opt.state_dict()
    return state["state"], state.get("iterations")


@pytest.mark.parametrize("kind", ARCHITECTURES)
def test_a_loaded_model_has_the_architecture_weights_and_compile_state(kind, tmp_path):
    make, data = ARCHITECTURES[kind]
    x = data()
    model = compiled(make)
    model.fit(x, LABELS, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "model.fastnn"
    model.save(path)
    loaded = fn.load_model(path)

    assert type(loaded) is type(model)
    assert_same_weights(model, loaded)
    expected = predictions(model, x)
    np.testing.assert_array_equal(predictions(loaded, x), expected)
    # The comparison means something: a new model of the architecture predicts otherwise.
    fresh = make()
    with fn.no_grad():
        fresh(x[:2])
    assert not np.array_equal(predictions(fresh, x), expected)
    assert plain(loaded.get_config()) == plain(model.get_config())
    assert [type(v) for v in loaded.layers] == [type(v) for v in model.layers]

    assert loaded.compiled and loaded.metrics_names == model.metrics_names
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert type(loaded.loss) is type(model.loss)
    assert loaded.loss.get_config() == model.loss.get_config()
    (saved_state, saved_iterations), (state, iterations) = (optimizer_state(model),
                                                            optimizer_state(loaded))
    assert iterations == saved_iterations == 3  # 40 samples in batches of 16
    assert state.keys() == saved_state.keys()
    for i in saved_state:
        assert state[i].keys() == saved_state[i].keys()
        for name, value in saved_state[i].items():
            np.testing.assert_array_equal(state[i][name], value)
    assert loaded.evaluate(x, LABELS, verbose=0) == model.evaluate(x, LABELS, verbose=0)


def test_the_file_is_plain_safetensors_and_holds_no_pickle(tmp_path):
    model = compiled(ARCHITECTURES["dense"][0])
    model.fit(features(7), LABELS, epochs=1, verbose=0)
    path = tmp_path / "m.fastnn"
    model.save(path)
    with safe_open(str(path), "np") as f:
        keys, metadata = set(f.keys()), f.metadata()
    assert {f"weights/{k}" for k in model.state_dict()} <= keys
    assert any(k.startswith("optimizer/0/") for k in keys)
    assert metadata["format"] == "fastnn"
    document = json.loads(metadata["fastnn"])
    assert document["format_version"] == 1 and document["fastnn_version"] == fn.__version__
    assert document["weights"] == list(model.state_dict())
    data = path.read_bytes()
    assert b"pickle" not in data and b"\x80\x04\x95" not in data  # no pickle protocol-4 frame


def test_load_model_draws_nothing_from_the_global_generator(tmp_path):
    model = compiled(ARCHITECTURES["subclassed"][0])
    with fn.no_grad():
        model(features(7)[:2])
    model.save(tmp_path / "m.fastnn")
    fn.manual_seed(3)
    expected = np.asarray(fn.rand(5))
    fn.manual_seed(3)
    fn.load_model(tmp_path / "m.fastnn")
    np.testing.assert_array_equal(np.asarray(fn.rand(5)), expected)


def test_compile_false_and_an_uncompiled_model(tmp_path):
    make, data = ARCHITECTURES["dense"]
    model = compiled(make)
    model.fit(data(), LABELS, epochs=1, verbose=0)
    model.save(tmp_path / "m.fastnn")
    assert not fn.load_model(tmp_path / "m.fastnn", compile=False).compiled
    model.save(tmp_path / "settings.fastnn", include_optimizer=False)
    loaded = fn.load_model(tmp_path / "settings.fastnn")
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == 0 < model.optimizer.iterations
    fn.manual_seed(0)
    plain = make()
    plain.save(tmp_path / "plain.fastnn")
    loaded = fn.load_model(tmp_path / "plain.fastnn")
    assert not loaded.compiled
    x = data()
    np.testing.assert_array_equal(predictions(loaded, x), predictions(plain, x))


def test_an_unbuilt_model_round_trips_and_builds_later(tmp_path):
    model = fn.Sequential([layers.Dense(4), layers.Dense(2)])
    model.save(tmp_path / "m.fastnn")
    loaded = fn.load_model(tmp_path / "m.fastnn")
    assert not loaded.built and loaded.get_config() == model.get_config()
    assert loaded.predict(features(3)).shape == (N, 2)


@pytest.mark.parametrize("loss", [
    "sparse_categorical_crossentropy", losses.CrossEntropyLoss(),
    losses.SparseCategoricalCrossentropy, losses.SparseCategoricalCrossentropy(from_logits=True)],
    ids=["name", "torch_alias", "class", "object"])
def test_losses_and_metrics_come_back_as_compiled(loss, tmp_path):
    fn.manual_seed(1)
    model = ARCHITECTURES["dense"][0]()
    model.compile(optimizer="rmsprop", loss=loss,
                  metrics=["accuracy", "sparse_top_k_categorical_accuracy",
                           fn.metrics.sparse_categorical_accuracy], capture=False)
    x = features(7)
    model.fit(x, LABELS, epochs=1, verbose=0)
    model.save(tmp_path / "m.fastnn")
    loaded = fn.load_model(tmp_path / "m.fastnn")
    assert type(loaded.loss) is type(model.loss) and vars(loaded.loss) == vars(model.loss)
    assert loaded.metrics_names == model.metrics_names and loaded._capture is False
    assert loaded.evaluate(x, LABELS) == model.evaluate(x, LABELS)


@register_serializable(package="TestSaving")
def halved_crossentropy(y_true, y_pred):
    return losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")(
        y_pred, y_true) * 0.5


def test_a_registered_loss_function_is_restored_and_a_lambda_is_left_out(tmp_path):
    x = features(7)
    fn.manual_seed(2)
    model = ARCHITECTURES["dense"][0]()
    model.compile(optimizer="sgd", loss=halved_crossentropy)
    model.save(tmp_path / "m.fastnn")
    loaded = fn.load_model(tmp_path / "m.fastnn")
    assert loaded.loss is halved_crossentropy
    assert loaded.evaluate(x, LABELS) == model.evaluate(x, LABELS)

    model.compile(optimizer="sgd", loss=lambda y, p: halved_crossentropy(y, p))
    with pytest.warns(UserWarning, match="compile settings are not saved because the loss is "
                                         "the function '.*<lambda>'"):
        model.save(tmp_path / "lambda.fastnn")
    with pytest.warns(UserWarning, match="loads uncompiled"):
        loaded = fn.load_model(tmp_path / "lambda.fastnn")
    assert not loaded.compiled
    np.testing.assert_array_equal(predictions(loaded, x), predictions(model, x))


# --- resuming training ----------------------------------------------------------------------------

def resume_model():
    return fn.Sequential([layers.Dense(12, activation="relu"), layers.Dropout(0.3),
                          layers.BatchNormalization(), layers.Dense(3)], input_shape=(7,))


OPTIMIZERS = {
    "adam": lambda model: optimizers.Adam(learning_rate=0.02, weight_decay=0.01),
    "sgd_nesterov": lambda model: optimizers.SGD(learning_rate=0.05, momentum=0.9,
                                                 nesterov=True),
    "rmsprop_centered": lambda model: optimizers.RMSprop(learning_rate=0.01, momentum=0.5,
                                                         centered=True),
    "adagrad": lambda model: optimizers.Adagrad(learning_rate=0.05),
    "schedule": lambda model: optimizers.SGD(learning_rate=Halving(0.1, 4), momentum=0.9),
    "torch_adamw": lambda model: optim.AdamW(model.parameters(), lr=0.01),
    "torch_adagrad": lambda model: optim.Adagrad(model.parameters(), lr=0.05,
                                                 initial_accumulator_value=0.2),
}


def make_compiled(name):
    model = resume_model()
    model.compile(optimizer=OPTIMIZERS[name](model),
                  loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def curve(history):
    return [history.history[k] for k in ("loss", "accuracy")]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_training_resumes_where_it_stopped(name, tmp_path):
    """N + M epochs straight equal N epochs, save, load, M more: the shuffle and the
    dropout masks (global generator) continue since load_model draws nothing, and the
    weights, moving statistics, moments, step counts and schedule position come from the
    file."""
    x = features(7)
    first, more = 2, 3
    fn.manual_seed(11)
    straight = make_compiled(name)
    expected = curve(straight.fit(x, LABELS, epochs=first + more, batch_size=8, verbose=0))

    fn.manual_seed(11)
    model = make_compiled(name)
    before = curve(model.fit(x, LABELS, epochs=first, batch_size=8, verbose=0))
    model.save(tmp_path / "ckpt.fastnn")
    del model
    resumed = fn.load_model(tmp_path / "ckpt.fastnn")
    after = curve(resumed.fit(x, LABELS, epochs=first + more, initial_epoch=first,
                              batch_size=8, verbose=0))
    assert [b + a for b, a in zip(before, after)] == expected
    assert_same_weights(resumed, straight)


def test_training_resumes_in_a_new_process_with_the_generator_state(tmp_path):
    """The global generator is the program's, not the file's: kept with fn.get_rng_state()
    at the save and given back with fn.set_rng_state() in a new process, the resumed run
    draws the shuffles and dropout masks the straight run drew."""
    x = features(7)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", LABELS)
    fn.manual_seed(4)
    straight = make_compiled("adam")
    straight.fit(x, LABELS, epochs=2, batch_size=8, verbose=0)
    expected = curve(straight.fit(x, LABELS, epochs=4, initial_epoch=2, batch_size=8,
                                  verbose=0))

    fn.manual_seed(4)
    model = make_compiled("adam")
    model.fit(x, LABELS, epochs=2, batch_size=8, verbose=0)
    model.save(tmp_path / "ckpt.fastnn")
    np.save(tmp_path / "rng.npy", fn.get_rng_state())
    script = textwrap.dedent(f"""
        import json, numpy as np, fastnn as fn
        x, y = np.load({str(tmp_path / 'x.npy')!r}), np.load({str(tmp_path / 'y.npy')!r})
        model = fn.load_model({str(tmp_path / 'ckpt.fastnn')!r})
        fn.set_rng_state(np.load({str(tmp_path / 'rng.npy')!r}))
        h = model.fit(x, y, epochs=4, initial_epoch=2, batch_size=8, verbose=0)
        print(json.dumps([h.history["loss"], h.history["accuracy"]]))
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(fn.__file__))] + sys.path))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == expected


def test_rng_state_round_trip_and_errors():
    fn.manual_seed(8)
    state = fn.get_rng_state()
    first = np.asarray(fn.rand(5))
    fn.manual_seed(123)
    fn.set_rng_state(state)
    np.testing.assert_array_equal(np.asarray(fn.rand(5)), first)
    with pytest.raises(ValueError, match=r"set_rng_state: expected the int64 \[seed, offset\]"):
        fn.set_rng_state(np.zeros(3))


def test_layers_own_generators_are_restored(tmp_path):
    """Dropout(seed=) and an LSTM's seeded input dropout draw from their own generators,
    which the file holds: with shuffle=False nothing uses the global generator, so the
    resumed run matches the straight one even after reseeding it differently."""
    def make():
        model = fn.Sequential([layers.LSTM(6, dropout=0.3, seed=9, return_sequences=True),
                               layers.Dropout(0.4, seed=7), layers.GRU(4), layers.Dense(3)],
                              input_shape=(5, 3))
        model.compile(optimizer="adam",
                      loss=losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    x = features(5, 3)
    fn.manual_seed(1)
    straight = make()
    expected = straight.fit(x, LABELS, epochs=4, batch_size=8, shuffle=False,
                            verbose=0).history["loss"]
    fn.manual_seed(1)
    model = make()
    before = model.fit(x, LABELS, epochs=2, batch_size=8, shuffle=False,
                       verbose=0).history["loss"]
    model.save(tmp_path / "ckpt.fastnn")
    fn.manual_seed(12345)
    resumed = fn.load_model(tmp_path / "ckpt.fastnn")
    after = resumed.fit(x, LABELS, epochs=4, initial_epoch=2, batch_size=8, shuffle=False,
                        verbose=0).history["loss"]
    assert before + after == expected
    # Without the saved generator positions the masks would repeat the first epochs'.
    fn.manual_seed(12345)
    again = fn.load_model(tmp_path / "ckpt.fastnn")
    for layer in (again.layers[0], again.layers[1]):
        g = layer._dropout_generator if hasattr(layer, "_dropout_generator") else layer._generator
        np.asarray(g)[1] = 0
    assert again.fit(x, LABELS, epochs=4, initial_epoch=2, batch_size=8, shuffle=False,
                     verbose=0).history["loss"] != after


# --- atomic writes --------------------------------------------------------------------------------

def saved_pair(tmp_path):
    """A checkpoint on disk and a model that has since trained further."""
    x = features(7)
    model = compiled(ARCHITECTURES["dense"][0])
    path = tmp_path / "ckpt.fastnn"
    model.save(path)
    expected = predictions(model, x)
    model.fit(x, LABELS, epochs=2, verbose=0)
    assert not np.array_equal(predictions(model, x), expected)
    return model, path, path.read_bytes(), x, expected


@pytest.mark.parametrize("where, error", [("os.fsync", OSError("No space left on device")),
                                          ("os.replace", KeyboardInterrupt())],
                         ids=["write_fails", "interrupted_before_rename"])
def test_a_failed_save_keeps_the_previous_checkpoint_and_leaves_no_temporary_file(
        where, error, tmp_path, monkeypatch):
    model, path, old, x, expected = saved_pair(tmp_path)

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(where, fail)
    with pytest.raises(type(error)):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["ckpt.fastnn"]
    np.testing.assert_array_equal(predictions(fn.load_model(path), x), expected)


def test_a_failed_first_save_writes_nothing(tmp_path, monkeypatch):
    model = compiled(ARCHITECTURES["dense"][0])

    def fail(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr("os.fsync", fail)
    with pytest.raises(OSError):
        model.save_weights(tmp_path / "w.safetensors")
    assert os.listdir(tmp_path) == []


def test_an_architecture_that_cannot_be_saved_writes_nothing(tmp_path):
    model = fn.Sequential([layers.Dense(3, activation=lambda t: fn.relu(t))], input_shape=(4,))
    with pytest.raises(ValueError, match=r"cannot save the architecture: .*Dense 'dense.*"
                                         r"\['activation'\] is the function .*<lambda>"):
        model.save(tmp_path / "m.fastnn")
    assert os.listdir(tmp_path) == []
    with pytest.raises(FileExistsError):
        (tmp_path / "exists.fastnn").write_bytes(b"keep")
        model.save_weights(tmp_path / "exists.fastnn", overwrite=False)
    assert (tmp_path / "exists.fastnn").read_bytes() == b"keep"


# --- damaged and foreign files --------------------------------------------------------------------

def checksum(text, tensors):
    """The file checksum as fastnn.saving's docstring defines it."""
    h = hashlib.sha256(text.encode("utf-8"))
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        h.update(f"{name}\0{a.dtype.name}\0{json.dumps(list(a.shape))}\0".encode("utf-8"))
        h.update(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes())
    return h.hexdigest()


def rewrite(path, edit_document=None, edit_tensors=None, text=None):
    """Rewrites a fastnn file with a changed document or tensors and a valid checksum."""
    with safe_open(str(path), "np") as f:
        document = json.loads(f.metadata()["fastnn"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if edit_document:
        edit_document(document)
    if edit_tensors:
        edit_tensors(tensors)
    text = json.dumps(document) if text is None else text
    st.save_file(tensors, str(path), metadata={"format": "fastnn", "fastnn": text,
                                               "fastnn_sha256": checksum(text, tensors)})


@pytest.fixture
def checkpoint(tmp_path):
    model = compiled(ARCHITECTURES["dense"][0])
    model.fit(features(7), LABELS, epochs=1, verbose=0)
    path = tmp_path / "m.fastnn"
    model.save(path)
    return model, path


def header_length(data):
    return int.from_bytes(data[:8], "little")


def test_the_test_checksum_agrees_with_the_files(checkpoint):
    model, path = checkpoint
    rewrite(path)
    assert_same_weights(fn.load_model(path), model)


def test_truncated_files_are_refused(checkpoint, tmp_path):
    _, path = checkpoint
    data = path.read_bytes()
    end = 8 + header_length(data)
    damaged = tmp_path / "cut.fastnn"
    for cut in (0, 5, 8, 9, end // 2, end - 1, end, end + 3, (end + len(data)) // 2,
                len(data) - 1):
        damaged.write_bytes(data[:cut])
        for load in (fn.load_model, fn.Sequential([layers.Dense(1)]).load_weights):
            with pytest.raises(ValueError, match=r"'.*cut.fastnn' .*(not a safetensors file|"
                                                 r"truncated|damaged)"):
                load(damaged)


def test_flipped_header_bits_are_noticed(tmp_path):
    """Bits flipped across the header (lengths, JSON syntax, names, offsets, the metadata
    and its checksum) of a small compiled model's file."""
    model = fn.Sequential([layers.Dense(2)], input_shape=(3,))
    model.compile(optimizer=optimizers.SGD(momentum=0.9), loss="mse")
    model.fit(features(3), features(2), epochs=1, verbose=0)
    model.save(tmp_path / "m.fastnn")
    data = (tmp_path / "m.fastnn").read_bytes()
    damaged = tmp_path / "flipped.fastnn"
    positions = list(range(8)) + list(range(8, 8 + header_length(data), 3))
    for position in positions:
        flipped = bytearray(data)
        flipped[position] ^= 1 << (position % 8)
        damaged.write_bytes(bytes(flipped))
        with pytest.raises(ValueError, match="flipped.fastnn"):
            fn.load_model(damaged)


def test_a_flipped_weight_bit_fails_the_checksum(checkpoint, tmp_path):
    _, path = checkpoint
    data = bytearray(path.read_bytes())
    start = 8 + header_length(data)
    for position in (start, len(data) - 1, (len(data) + start) // 2):
        damaged = bytearray(data)
        damaged[position] ^= 0x01
        (tmp_path / "bad.fastnn").write_bytes(bytes(damaged))
        with pytest.raises(ValueError, match="damaged: its contents do not match the checksum"):
            fn.load_model(tmp_path / "bad.fastnn")


def test_metadata_that_is_not_json_is_refused(checkpoint):
    _, path = checkpoint
    original = path.read_bytes()
    rewrite(path, text='{"format_version": 1, "kind": "model", ')
    with pytest.raises(ValueError, match="fastnn metadata is not valid JSON"):
        fn.load_model(path)
    path.write_bytes(original)
    rewrite(path, text="[1, 2]")
    with pytest.raises(ValueError, match="fastnn metadata is a JSON list"):
        fn.load_model(path)


def test_foreign_and_non_safetensors_files_are_refused(tmp_path):
    foreign = tmp_path / "other.safetensors"
    st.save_file({"encoder.weight": np.ones((4, 4), np.float32)}, str(foreign),
                 metadata={"format": "pt"})
    with pytest.raises(ValueError, match="not a fastnn model: its metadata has no fastnn entry"):
        fn.load_model(foreign)
    model = fn.Sequential([layers.Dense(2)], input_shape=(4,))
    with pytest.raises(ValueError, match=r"missing keys \['0.kernel', '0.bias'\], unexpected "
                                         r"keys \['encoder.weight'\]"):
        model.load_weights(foreign)

    text = tmp_path / "notes.txt"
    text.write_text("These are not the weights you are looking for.\n" * 3)
    with pytest.raises(ValueError, match="truncated or not a safetensors file"):
        fn.load_model(text)
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(ValueError, match="holds 0 bytes"):
        fn.load_model(tmp_path / "empty")
    (tmp_path / "list").write_bytes((5).to_bytes(8, "little") + b"[1,2]")
    with pytest.raises(ValueError, match="header is a JSON list"):
        fn.load_model(tmp_path / "list")
    with pytest.raises(FileNotFoundError):
        fn.load_model(tmp_path / "missing.fastnn")


def set_units(document, units):
    document["model"]["config"]["layers"][0]["config"]["units"] = units


def test_weights_that_do_not_fit_the_architecture_are_named(checkpoint):
    _, path = checkpoint
    rewrite(path, lambda d: set_units(d, 15))  # the file's weights are for 16 units
    with pytest.raises(ValueError, match=r"expected '0.kernel' of shape \(7, 15\) \(the "
                                         r"model's\), the file has \(7, 16\)"):
        fn.load_model(path)


def test_missing_weights_and_wrong_dtypes_are_named(checkpoint, tmp_path):
    model, path = checkpoint
    original = path.read_bytes()

    def drop_bias(tensors):
        del tensors["weights/2.bias"]

    rewrite(path, lambda d: d["weights"].remove("2.bias"), drop_bias)
    with pytest.raises(ValueError, match=r"missing keys \['2.bias'\], unexpected keys \[\]"):
        fn.load_model(path)

    path.write_bytes(original)

    def widen(tensors):
        tensors["weights/0.kernel"] = tensors["weights/0.kernel"].astype(np.float64)

    rewrite(path, edit_tensors=widen)
    with pytest.raises(ValueError, match="expected '0.kernel' of dtype float32 .*the file has "
                                         "float64"):
        fn.load_model(path)

    path.write_bytes(original)
    rewrite(path, lambda d: d["model"]["config"]["layers"][0].update(class_name="Densest"))
    with pytest.raises(ValueError, match="fastnn.layers.core.Densest, which this version of "
                                         "fastnn does not have"):
        fn.load_model(path)

    path.write_bytes(original)
    rewrite(path, lambda d: d.update(format_version=2))
    with pytest.raises(ValueError, match="written by a newer fastnn"):
        fn.load_model(path)

    path.write_bytes(original)
    rewrite(path, lambda d: d.update(model=[1]))
    with pytest.raises(ValueError, match="expected 'model' to be a dict, got list"):
        fn.load_model(path)


def test_a_weights_file_is_not_a_model(tmp_path):
    model = fn.Sequential([layers.Dense(2)], input_shape=(3,))
    model.save_weights(tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="holds 'weights', not a model .*load_weights"):
        fn.load_model(tmp_path / "w.safetensors")


# --- save_weights / load_weights ------------------------------------------------------------------

def test_load_weights_writes_in_place_and_captured_steps_see_it(tmp_path):
    make, data = ARCHITECTURES["conv_bn"]
    x = data()
    source = compiled(make, seed=1)
    source.fit(x, LABELS, epochs=1, verbose=0)
    source.save_weights(tmp_path / "w.safetensors")
    with safe_open(str(tmp_path / "w.safetensors"), "np") as f:
        assert sorted(f.keys()) == sorted(source.state_dict())

    layers.Dense(3)  # other Keras names for the target's layers
    target = compiled(make, seed=2)
    before = predictions(target, x)  # captures the predict step
    tensors = list(target.weights)
    target.load_weights(tmp_path / "w.safetensors")
    assert all(a is b for a, b in zip(target.weights, tensors))
    assert not np.array_equal(before, predictions(source, x))
    np.testing.assert_array_equal(predictions(target, x), predictions(source, x))


def test_load_weights_builds_an_unbuilt_model_and_reads_model_files(tmp_path):
    make, data = ARCHITECTURES["embedding_lstm_gru"]
    x = data()
    source = compiled(make)
    source.fit(x, LABELS, epochs=1, verbose=0)
    source.save_weights(tmp_path / "w.safetensors")
    source.save(tmp_path / "m.fastnn")
    for path in ("w.safetensors", "m.fastnn"):
        target = make()
        assert not target.built
        target.load_weights(tmp_path / path)
        np.testing.assert_array_equal(predictions(target, x), predictions(source, x))


def test_load_weights_refuses_other_shapes_and_changes_nothing(tmp_path):
    fn.Sequential([layers.Dense(5), layers.Dense(2)], input_shape=(3,)).save_weights(
        tmp_path / "w.safetensors")
    model = fn.Sequential([layers.Dense(5), layers.Dense(4)], input_shape=(3,))
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"expected '1.kernel' of shape \(5, 4\) \(the "
                                         r"model's\), the file has \(5, 2\)"):
        model.load_weights(tmp_path / "w.safetensors")
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_load_weights_takes_a_plain_state_dict_file(tmp_path):
    source = fn.Sequential([layers.Dense(5), layers.Dense(2)], input_shape=(3,))
    st.save_file(source.state_dict(), str(tmp_path / "plain.safetensors"))
    target = fn.Sequential([layers.Dense(5), layers.Dense(2)], input_shape=(3,))
    target.load_weights(tmp_path / "plain.safetensors")
    assert_same_weights(target, source)


# --- the registry ---------------------------------------------------------------------------------

def test_registered_names_follow_keras():
    assert fn.saving.get_registered_name(Tower) == "TestSaving>Tower"
    assert fn.saving.get_registered_object("TestSaving>Tower") is Tower
    assert fn.saving.get_registered_name(Unregistered) == "Unregistered"
    assert fn.saving.register_keras_serializable is register_serializable

    @register_serializable(package="TestSaving", name="Renamed")
    class Local(layers.Dense):
        pass

    assert fn.saving.get_custom_objects()["TestSaving>Renamed"] is Local

    class NoConfig:
        pass

    with pytest.raises(ValueError, match="no get_config"):
        register_serializable()(NoConfig)
    with pytest.raises(ValueError, match="package"):
        register_serializable(package="a>b")


def test_an_unregistered_model_loads_only_through_custom_objects(tmp_path, monkeypatch):
    model = Unregistered()
    with fn.no_grad():
        model(features(4)[:1])
    model.save(tmp_path / "m.fastnn")
    with pytest.raises(ValueError, match=r"class 'Unregistered' \(module '.*test_saving'\), "
                                         r"which is not registered: decorate it with "
                                         r"@fn.saving.register_serializable\(\)"):
        fn.load_model(tmp_path / "m.fastnn")
    loaded = fn.load_model(tmp_path / "m.fastnn", custom_objects={"Unregistered": Unregistered})
    assert_same_weights(loaded, model)
    monkeypatch.setitem(fn.saving.get_custom_objects(), "Unregistered", Unregistered)
    assert_same_weights(fn.load_model(tmp_path / "m.fastnn"), model)  # Keras's plain-name entry
    monkeypatch.undo()
    # Weights alone go into a model built by hand.
    by_hand = Unregistered()
    by_hand.load_weights(tmp_path / "m.fastnn")
    assert_same_weights(by_hand, model)


def test_a_model_whose_config_does_not_construct_it_says_so(tmp_path):
    model = NeedsArguments(4)
    with fn.no_grad():
        model(features(3)[:1])
    model.save(tmp_path / "m.fastnn")
    with pytest.raises(ValueError, match="could not rebuild NeedsArguments .*define "
                                         r"get_config\(\) returning its constructor's arguments"):
        fn.load_model(tmp_path / "m.fastnn")


def test_an_unregistered_activation_function_is_named(tmp_path):
    model = fn.Sequential([layers.Dense(3, activation=unregistered_activation)],
                          input_shape=(4,))
    model.save(tmp_path / "m.fastnn")
    with pytest.raises(ValueError, match="function 'unregistered_activation' .*not registered"):
        fn.load_model(tmp_path / "m.fastnn")
    loaded = fn.load_model(tmp_path / "m.fastnn",
                           custom_objects={"unregistered_activation": unregistered_activation})
    x = features(4)
    np.testing.assert_array_equal(predictions(loaded, x), predictions(model, x))


def unregistered_activation(x):
    return fn.sigmoid(x) * 2.0


# --- ModelCheckpoint ------------------------------------------------------------------------------

class Snapshots(fn.callbacks.Callback):
    """The weights at each epoch's end; with ``scores``, also puts scores[epoch] into the
    logs as "val_score" (callbacks share the logs dict, as in Keras), so the checkpoint's
    choice is tested on a curve the test sets."""

    def __init__(self, scores=None):
        super().__init__()
        self.states = []
        self.scores = scores

    def on_epoch_end(self, epoch, logs=None):
        self.states.append(self.model.state_dict())
        if self.scores is not None:
            logs["val_score"] = self.scores[epoch]


def noisy_fit(model, callbacks, epochs=8):
    x, x_val = features(7), features(7)
    return model.fit(x, LABELS, epochs=epochs, batch_size=8, verbose=0,
                     validation_data=(x_val, RNG.integers(0, 3, N)), callbacks=callbacks)


SCORES = [3.0, 1.0, 2.0, 0.5, 0.7, 0.5, 4.0, 0.6]


@pytest.mark.parametrize("mode, best", [("auto", 3), ("min", 3), ("max", 6)])
def test_save_best_only_keeps_the_best_epoch(mode, best, tmp_path):
    """The file holds the weights of the first epoch with the best score (an equal later
    score is no improvement)."""
    assert best == (int(np.argmax(SCORES)) if mode == "max" else int(np.argmin(SCORES)))
    model = compiled(ARCHITECTURES["dense"][0], seed=5)
    snapshots = Snapshots(SCORES)
    checkpoint = ModelCheckpoint(tmp_path / "best.fastnn", monitor="val_score", mode=mode,
                                 save_best_only=True)
    noisy_fit(model, [snapshots, checkpoint])
    loaded = fn.load_model(tmp_path / "best.fastnn")
    for key, value in loaded.state_dict().items():
        np.testing.assert_array_equal(value, snapshots.states[best][key])
    assert checkpoint.best == SCORES[best]
    assert all(not np.array_equal(s["0.kernel"], snapshots.states[best]["0.kernel"])
               for i, s in enumerate(snapshots.states) if i != best)


@pytest.mark.parametrize("monitor, pick", [("val_loss", np.argmin), ("val_accuracy", np.argmax)])
def test_save_best_only_on_fit_logs_and_auto_mode(monitor, pick, tmp_path):
    model = compiled(ARCHITECTURES["dense"][0], seed=5,
                     optimizer=optimizers.SGD(learning_rate=0.3, momentum=0.9))
    snapshots = Snapshots()
    history = noisy_fit(model, [snapshots, ModelCheckpoint(
        tmp_path / "best.fastnn", monitor=monitor, save_best_only=True)])
    best = int(pick(history.history[monitor]))
    loaded = fn.load_model(tmp_path / "best.fastnn")
    for key, value in loaded.state_dict().items():
        np.testing.assert_array_equal(value, snapshots.states[best][key])


def test_filepath_fields_and_weights_only(tmp_path):
    model = compiled(ARCHITECTURES["dense"][0], seed=6)
    snapshots = Snapshots()
    checkpoint = ModelCheckpoint(str(tmp_path / "run" / "{epoch:02d}-{val_loss:.2f}.safetensors"),
                                 save_weights_only=True)
    history = noisy_fit(model, [snapshots, checkpoint], epochs=3)
    names = [f"{e + 1:02d}-{v:.2f}.safetensors" for e, v in enumerate(history.history["val_loss"])]
    assert sorted(os.listdir(tmp_path / "run")) == sorted(names)
    for name, state in zip(names, snapshots.states):
        target = ARCHITECTURES["dense"][0]()
        target.load_weights(tmp_path / "run" / name)
        for key, value in target.state_dict().items():
            np.testing.assert_array_equal(value, state[key])
    with pytest.raises(ValueError, match="not a model"):
        fn.load_model(tmp_path / "run" / names[0])


def test_save_freq_in_batches_and_the_replayed_epoch_stays(tmp_path):
    model = compiled(ARCHITECTURES["dense"][0])
    per_epoch = ModelCheckpoint(tmp_path / "e.fastnn")
    per_batches = ModelCheckpoint(tmp_path / "{epoch}-{batch}.fastnn", save_freq=2)
    assert isinstance(per_batches, ModelCheckpoint) and type(per_batches).__name__ == \
        "ModelCheckpoint"
    assert not _Callbacks([per_epoch], model, {}).wants("on_train_batch_end")
    assert _Callbacks([per_batches], model, {}).wants("on_train_batch_end")
    model.fit(features(7), LABELS, epochs=2, batch_size=8, verbose=0,
              callbacks=[per_epoch, per_batches])
    # 5 batches per epoch; a save after every second batch, counted across epochs.
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["e.fastnn", "1-2.fastnn", "1-4.fastnn", "2-1.fastnn", "2-3.fastnn", "2-5.fastnn"])


def test_checkpoint_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        ModelCheckpoint(tmp_path / "m", mode="up")
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint(tmp_path / "m", save_freq=0)
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint(tmp_path / "m", save_freq="batch")
    model = compiled(ARCHITECTURES["dense"][0])
    with pytest.warns(UserWarning, match="only with val_loss available"):
        model.fit(features(7), LABELS, epochs=1, verbose=0,
                  callbacks=[ModelCheckpoint(tmp_path / "m", save_best_only=True)])
    assert os.listdir(tmp_path) == []
    with pytest.raises(KeyError, match="names the field 'val_auc'"):
        model.fit(features(7), LABELS, epochs=1, verbose=0,
                  callbacks=[ModelCheckpoint(str(tmp_path / "{val_auc}.fastnn"))])
