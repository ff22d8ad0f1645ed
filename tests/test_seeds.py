"""The seeds' code as tests: every code example of the five tutorials fastnn grew from
(``shared/seeds/00N_*.txt``) that defines and trains a model runs on fastnn with only its
import lines changed, and learns.

Each test copies one seed program verbatim except for
  - the import lines (``import fastnn as tf``, ``import fastnn as torch``, ...), chosen by
    ``lib`` so that the same lines also run on the real TensorFlow/Keras or PyTorch;
  - the dataset loading (marked ``# data:``): the seeds download MNIST, CIFAR-10 or the
    Boston housing table through keras.datasets or torchvision (neither is used here);
    the bundled 8x8 digits stand in, shaped as the seed expects (28x28x1 for MNIST,
    3x32x32 for CIFAR-10: each digit scaled up, see fastnn.datasets.load_digits_images);
  - the seed's own bugs, each fixed where it is and marked ``# seed bug: ...``;
  - the number of epochs, cut through a variable (marked ``# quick:``) so each test takes
    seconds; the models are the seeds'.
The docstring of each test names the seed file and the code block (line numbers). Where
TensorFlow or torch is installed, the ``*_like_keras``/``*_like_torch`` tests run the same
lines on the real library with the same data and compare the accuracy within noise.
"""

import contextlib
import io
import types

import numpy as np
import pytest

import fastnn as fn
from fastnn.datasets import load_digits, load_digits_images, train_test_split

# --- the bundled data in the forms the seeds expect ------------------------------------------


def digits_two_features(first=3, second=8):
    """Seed 000 wants a 2-input binary task: the digits ``first`` and ``second`` projected
    on their two principal components (standardised), labels 0/1, float32."""
    x, y = load_digits()
    keep = (y == first) | (y == second)
    x, y = x[keep] - x[keep].mean(axis=0), (y[keep] == second).astype(np.float32)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    z = x @ vt[:2].T
    z = (z / z.std(axis=0)).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(z, y, test_size=0.3, seed=0)
    return (x_train, y_train), (x_test, y_test)


def digits_nchw(size, channels, train_count=None):
    """What torchvision's MNIST/CIFAR10 with ``transforms.ToTensor()`` give: float32 NCHW
    images in [0, 1], int64 labels (the first ``train_count`` training images)."""
    (x_train, y_train), (x_test, y_test) = load_digits_images(size, channels)

    def images(x):
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32) / 255

    return ((images(x_train[:train_count]), y_train[:train_count].astype(np.int64)),
            (images(x_test), y_test.astype(np.int64)))


def digits_bunch():
    """What seed 003 reads from ``sklearn.datasets.load_digits()``: ``data`` (N, 64) and
    ``target``, plus the ``test_data``/``test_target`` split it expects (sklearn has none)."""
    x, y = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, seed=0)
    return types.SimpleNamespace(data=x_train, target=y_train, test_data=x_test,
                                 test_target=y_test)


def seeded(lib, seed=0):
    """Fixes the initial weights and data orders of ``lib`` (not part of the seeds)."""
    fn.manual_seed(seed)
    if lib == "torch":
        import torch
        torch.manual_seed(seed)
        torch.set_num_threads(1)
    elif lib == "keras":
        import keras
        keras.utils.set_random_seed(seed)


def quiet(run, *args):
    """Runs a seed program with its prints (progress bars, per-epoch lines) captured."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = run(*args)
    return result, out.getvalue()


# --- seed 000: a binary classifier, Keras (000_d8abbac88dc9a5f8.txt) ----------------------


def seed_000(lib, epochs):
    """000_d8abbac88dc9a5f8.txt, section 5.2: blocks at lines 236-244 (model), 248-250
    (compile), 254-266 (data), 270-274 (fit, evaluate)."""
    if lib == "fastnn":
        import fastnn as tf
        from fastnn.keras import layers, models
    else:
        import tensorflow as tf
        from tensorflow.keras import layers, models

    model = models.Sequential([
        layers.Dense(32, activation='relu', input_shape=(2,)),
        layers.Dense(1, activation='sigmoid')
    ])

    model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['accuracy'])

    if lib == "fastnn":
        from fastnn.keras.datasets import boston_housing  # noqa: F401 (the seed's imports)
        from fastnn.keras.utils import to_categorical  # noqa: F401
    else:
        from tensorflow.keras.datasets import boston_housing  # noqa: F401
        from tensorflow.keras.utils import to_categorical  # noqa: F401

    # data: boston_housing.load_data() (13 house features, prices) -> the 2-feature binary
    # digits task the model is built for
    (train_data, train_labels), (test_data, test_labels) = digits_two_features()
    # seed bug: reshape((N, 1)) drops the model's 2 input features: (N, 2)
    train_data = train_data.reshape((train_data.shape[0], 2))
    # seed bug: one-hot labels (N, 2) do not fit the single sigmoid output of a
    # binary_crossentropy model; the 0/1 labels are used as they are
    # train_labels = to_categorical(train_labels)
    test_data = test_data.reshape((test_data.shape[0], 2))  # seed bug: (N, 1) as above
    # test_labels = to_categorical(test_labels)  # seed bug: as above

    train_dataset = tf.data.Dataset.from_tensor_slices((train_data, train_labels)).shuffle(100).batch(32)  # noqa: E501
    test_dataset = tf.data.Dataset.from_tensor_slices((test_data, test_labels)).batch(32)

    history = model.fit(train_dataset, epochs=epochs, validation_data=test_dataset)  # quick: 10
    test_loss, test_acc = model.evaluate(test_dataset)
    print(f'Test accuracy: {test_acc}')
    return history.history["loss"], test_acc


def test_seed_000_binary_classifier_learns():
    """000_d8abbac88dc9a5f8.txt lines 236-274 (four blocks, section 5.2), the seed's 10
    epochs."""
    seeded("fastnn")
    (losses, accuracy), out = quiet(seed_000, "fastnn", 10)
    assert "Test accuracy:" in out
    assert losses[-1] < 0.8 * losses[0]
    assert accuracy > 0.85  # chance 0.5


def test_seed_000_like_keras():
    pytest.importorskip("tensorflow")
    seeded("keras")
    (_, theirs), _ = quiet(seed_000, "keras", 10)
    seeded("fastnn")
    (_, mine), _ = quiet(seed_000, "fastnn", 10)
    assert theirs > 0.85 and abs(mine - theirs) < 0.1


# --- seed 001: an MNIST CNN, Keras (001_de53f3bb6e7e2225.txt) -----------------------------


def seed_001_program(lib, quick_epochs, through_fit):
    """001_de53f3bb6e7e2225.txt, section 5.2: blocks at lines 220-253 (data, the
    DataProcessor class), 257-270 (model, optimizer, loss), 274-302 (train_epoch/evaluate
    and training through DataProcessor: fit) and 306-317 (a GradientTape loop over
    train_epoch). ``through_fit``: lines 220-302 as written (the model trains through
    DataProcessor.train, i.e. fit); else lines 220-296 without the processor's training
    (lines 298-301), then 306-317, so that the GradientTape loop trains the fresh model."""
    if lib == "fastnn":
        import fastnn as tf
        from fastnn.keras import datasets, layers, models  # noqa: F401 (the seed's import)
    else:
        import tensorflow as tf
        from tensorflow.keras import datasets, layers, models  # noqa: F401

    # data: datasets.mnist.load_data() -> the bundled digits as 28x28 images (uint8)
    (train_images, train_labels), (test_images, test_labels) = load_digits_images(28)

    # data: the seed's 60000 and 10000 are MNIST's sizes
    train_images = train_images.reshape((train_images.shape[0], 28, 28, 1))
    test_images = test_images.reshape((test_images.shape[0], 28, 28, 1))
    train_images, test_images = train_images / 255.0, test_images / 255.0

    class DataProcessor:
        def __init__(self, data):
            self.data = data
            self.batch_size = 64
            self.num_classes = 10
            self.model = None
            self.optimizer = None
            self.loss = None

        def preprocess(self, images, labels):
            return images, labels

        def train(self):
            steps_per_epoch = train_images.shape[0] // self.batch_size
            epochs = 10
            self.model.compile(optimizer=self.optimizer, loss=self.loss, metrics=['accuracy'])
            # seed bug: fit((images, labels)) passes the pair as the input (Keras raises
            # "None values not supported"): unpacked into x and y
            self.model.fit(*self.preprocess(train_images, train_labels), epochs=epochs, steps_per_epoch=steps_per_epoch)  # noqa: E501

        def evaluate(self):
            self.model.evaluate(*self.preprocess(test_images, test_labels))  # seed bug: as fit

        def predict(self, images):
            # seed bug: preprocess takes labels too
            return self.model.predict(self.preprocess(images, None)[0])

    model = models.Sequential([
        layers.Conv2D(32, (3,3), activation='relu', input_shape=(28, 28, 1)),
        layers.MaxPooling2D((2,2)),
        layers.Conv2D(64, (3,3), activation='relu'),
        layers.MaxPooling2D((2,2)),
        layers.Flatten(),
        layers.Dense(64, activation='relu'),
        layers.Dense(10)
    ])

    optimizer = tf.keras.optimizers.Adam(learning_rate=0.001)
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    processor = DataProcessor(model)
    processor.model = model  # seed bug: DataProcessor(model) stores it as data; model stays None

    def train_epoch(model, dataset, batch_size, optimizer, loss):
        dataloader = tf.data.Dataset.from_tensor_slices((dataset.images, dataset.labels)).shuffle(buffer_size=1024).batch(batch_size)  # noqa: E501
        losses = []
        for images, labels in dataloader:
            with tf.GradientTape() as tape:
                outputs = model(images, training=True)
                loss_value = loss(labels, outputs)
            grads = tape.gradient(loss_value, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            losses.append(loss_value)
        return tf.reduce_mean(losses)

    def evaluate(model, dataset, batch_size):
        dataloader = tf.data.Dataset.from_tensor_slices((dataset.images, dataset.labels)).batch(batch_size)  # noqa: E501
        predictions, labels = [], []
        # seed bug: the loop variable hid the labels list, which was never filled
        for images, batch_labels in dataloader:
            predictions.append(model(images))
            labels.append(batch_labels)
        predictions = tf.concat(predictions, axis=0)
        labels = tf.concat(labels, axis=0)
        # seed bug: (predictions, labels) swapped: Keras's order is (y_true, y_pred)
        return tf.keras.metrics.sparse_categorical_accuracy(labels, predictions)

    processor.optimizer = optimizer
    processor.loss = loss
    if through_fit:
        processor.train()
        processor.evaluate()
        return model, processor, None, None

    # seed bug: train_dataset and test_dataset are used but never defined (objects with
    # .images and .labels, as train_epoch and evaluate read them)
    train_dataset = types.SimpleNamespace(images=train_images, labels=train_labels)
    test_dataset = types.SimpleNamespace(images=test_images, labels=test_labels)
    epoch_losses = []  # (the test's record of the printed losses)

    epochs = quick_epochs  # quick: the seed's epochs = 10
    batch_size = 64

    for epoch in range(epochs):
        # seed bug: `loss = train_epoch(..., loss)` replaced the loss function by the epoch's
        # loss value, so the second epoch called a number
        epoch_loss = train_epoch(model, train_dataset, batch_size, optimizer, loss)
        print(f"Epoch {epoch+1}, train loss: {epoch_loss.numpy():.4f}")
        epoch_losses.append(float(epoch_loss.numpy()))

    predictions = processor.predict(test_images)
    print(f"Epoch {epoch+1}, dev results:")
    accuracy = evaluate(model, test_dataset, batch_size)
    print(accuracy)
    return model, predictions, epoch_losses, accuracy


def _digits_28_test_set():
    (_, _), (x_test, y_test) = load_digits_images(28)
    return x_test / 255.0, y_test


def test_seed_001_cnn_through_data_processor_fit_learns():
    """001_de53f3bb6e7e2225.txt lines 220-302 (blocks 220-253, 257-270, 274-302): the CNN
    trained by DataProcessor.train (compile and fit, the seed's 10 epochs)."""
    seeded("fastnn")
    (model, _, _, _), out = quiet(seed_001_program, "fastnn", None, True)
    x_test, y_test = _digits_28_test_set()
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.8, out[-2000:]  # chance 0.1


def test_seed_001_gradient_tape_loop_learns():
    """001_de53f3bb6e7e2225.txt lines 220-296 and 306-317: the GradientTape loop of
    train_epoch (block 274-302's functions, block 306-317's loop) trains the fresh CNN of
    block 257-270; evaluate's per-image accuracies on the test images."""
    seeded("fastnn")
    (model, predictions, losses, accuracy), out = quiet(seed_001_program, "fastnn", 3, False)
    assert "dev results" in out
    assert np.asarray(predictions).shape == (449, 10)  # the 449 test images
    assert losses[-1] < 0.5 * losses[0]
    assert float(np.mean(np.asarray(accuracy))) > 0.8  # chance 0.1


def test_seed_001_like_keras():
    pytest.importorskip("tensorflow")
    x_test, y_test = _digits_28_test_set()
    seeded("keras")
    (model, _, _, _), _ = quiet(seed_001_program, "keras", None, True)
    theirs = model.evaluate(x_test, y_test, verbose=0)[1]
    seeded("fastnn")
    (model, _, _, _), _ = quiet(seed_001_program, "fastnn", None, True)
    mine = model.evaluate(x_test, y_test, verbose=0)[1]
    assert theirs > 0.8 and abs(mine - theirs) < 0.1


# --- seed 002: a CIFAR-10 CNN, PyTorch (002_aee0d61b1a11d83a.txt) --------------------------


def seed_002(lib, quick_epochs, train_count):
    """002_aee0d61b1a11d83a.txt: the block at lines 181-245, repeated word for word at
    lines 283-347."""
    if lib == "fastnn":
        import fastnn as torch
        import fastnn.nn as nn
        import fastnn.optim as optim
    else:
        import torch
        import torch.nn as nn
        import torch.optim as optim
    # data: `from torchvision import datasets, transforms` (no torchvision; see below)

    # 定义CNN模型
    class CNN(nn.Module):
        def __init__(self):
            super(CNN, self).__init__()
            self.conv1 = nn.Conv2d(3, 64, kernel_size=3, padding=1)
            self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
            self.conv2 = nn.Conv2d(64, 128, kernel_size=3, padding=1)
            self.fc1 = nn.Linear(128*8*8, 512)
            self.fc2 = nn.Linear(512, 10)

        def forward(self, x):
            x = self.pool(nn.functional.relu(self.conv1(x)))
            x = self.pool(nn.functional.relu(self.conv2(x)))
            x = x.view(-1, 128*8*8)
            x = nn.functional.relu(self.fc1(x))
            x = self.fc2(x)
            return x

    # 准备数据和模型
    model = CNN()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.001)
    # data: datasets.CIFAR10(..., transform=transforms.ToTensor()) -> the bundled digits as
    # 3x32x32 float images in [0, 1] with int64 labels
    (x_train, y_train), (x_test, y_test) = digits_nchw(32, 3, train_count)
    train_dataset = torch.utils.data.TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train))  # noqa: E501
    test_dataset = torch.utils.data.TensorDataset(torch.from_numpy(x_test), torch.from_numpy(y_test))  # noqa: E501
    train_loader = torch.utils.data.DataLoader(train_dataset, batch_size=64, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_dataset, batch_size=64, shuffle=False)

    # 训练模型
    for epoch in range(quick_epochs):  # quick: the seed's range(10)
        model.train()
        for data, target in train_loader:
            optimizer.zero_grad()
            output = model(data)
            loss = criterion(output, target)
            loss.backward()
            optimizer.step()

        model.eval()
        with torch.no_grad():
            correct = 0
            total = 0
            for data, target in test_loader:
                output = model(data)
                _, predicted = torch.max(output.data, 1)
                total += target.size(0)
                correct += (predicted == target).sum().item()
            print('Epoch {}: Accuracy = {:.2f}%'.format(epoch+1, 100 * correct / total))

    # 测试模型
    with torch.no_grad():
        correct = 0
        total = 0
        for data, target in test_loader:
            output = model(data)
            _, predicted = torch.max(output.data, 1)
            total += target.size(0)
            correct += (predicted == target).sum().item()
        print('Test Accuracy = {:.2f}%'.format(100 * correct / total))
    return correct / total


SEED_002_QUICK = dict(quick_epochs=2, train_count=640)  # two epochs of the first 640 images


def test_seed_002_cifar_cnn_learns():
    """002_aee0d61b1a11d83a.txt lines 181-245 (the same code again at lines 283-347): the
    CIFAR-10 CNN (nn.Conv2d, nn.MaxPool2d, nn.functional.relu, x.view, nn.CrossEntropyLoss,
    optim.Adam, torch.utils.data.DataLoader, torch.no_grad, torch.max)."""
    seeded("fastnn")
    accuracy, out = quiet(seed_002, "fastnn", *SEED_002_QUICK.values())
    assert "Test Accuracy" in out
    assert accuracy > 0.7  # chance 0.1


def test_seed_002_like_torch():
    pytest.importorskip("torch")
    seeded("torch")
    theirs, _ = quiet(seed_002, "torch", *SEED_002_QUICK.values())
    seeded("fastnn")
    mine, _ = quiet(seed_002, "fastnn", *SEED_002_QUICK.values())
    assert theirs > 0.7 and abs(mine - theirs) < 0.1


# --- seed 003: a digits MLP, subclassed Keras model (003_5bc083202c937d29.txt) -------------


def seed_003(lib, epochs):
    """003_5bc083202c937d29.txt: blocks at lines 259-276 (the model), 280-290 (train_model)
    and 294-324 (data, training, evaluation)."""
    if lib == "fastnn":
        import fastnn as tf
    else:
        import tensorflow as tf

    # 定义神经网络结构
    class NeuralNetwork(tf.keras.Model):
        def __init__(self):
            super(NeuralNetwork, self).__init__()
            self.dense1 = tf.keras.layers.Dense(3, activation=tf.nn.sigmoid)
            self.dense2 = tf.keras.layers.Dense(3, activation=tf.nn.sigmoid)
            self.dense3 = tf.keras.layers.Dense(3, activation=tf.nn.sigmoid)
            # seed bug: 3 output units for the 10 digit classes (labels 0..9)
            self.dense4 = tf.keras.layers.Dense(10, activation=tf.nn.sigmoid)

        def call(self, x):
            x = self.dense1(x)
            x = self.dense2(x)
            x = self.dense3(x)
            return self.dense4(x)

    # 定义训练函数
    def train_model(model, data, epochs, batch_size, learning_rate):
        train_dataset = tf.data.Dataset.from_tensor_slices((data['inputs'], data['labels']))
        train_dataset = train_dataset.shuffle(buffer_size=10000).batch(batch_size)

        model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate), loss=tf.keras.losses.SparseCategoricalCrossentropy(), metrics=['accuracy'])  # noqa: E501

        # seed bug: validation_split=0.2 cannot split a tf.data.Dataset (Keras raises, so
        # does fastnn): dropped
        history = model.fit(train_dataset, epochs=epochs)
        return history

    # 加载数据集
    import numpy as np
    # data: `from sklearn.datasets import load_digits` -> the bundled copy of the same
    # digits, with the test split the seed reads (sklearn's has no test_data)
    digits = digits_bunch()
    X = np.array(digits.data)
    y = np.array(digits.target)

    # 数据预处理
    X = X.reshape((X.shape[0], -1))
    X /= 16

    # 构建模型
    model = NeuralNetwork()

    # 训练模型
    # quick: epochs is the test's (the seed's epochs=50)
    history = train_model(model, {'inputs': X, 'labels': y}, epochs=epochs, batch_size=64, learning_rate=0.01)  # noqa: E501

    # 评估模型
    test_X = np.array(digits.test_data)
    test_X = test_X.reshape((test_X.shape[0], -1))
    test_X /= 16
    test_y = np.array(digits.test_target)
    test_y = test_y.reshape(-1)
    # seed bug: test_X.reshape((X.shape[0], 3)) cannot reshape the test images (and the
    # model takes 64 pixels), and `test_X /= 16` a second time scaled them twice: dropped
    # test_X = test_X.reshape((X.shape[0], 3))
    # test_X /= 16

    test_loss, test_acc = model.evaluate(test_X, test_y, verbose=2)
    print(f'Test accuracy: {test_acc}')
    return history.history["loss"], test_acc


def test_seed_003_subclassed_mlp_learns():
    """003_5bc083202c937d29.txt lines 259-324 (blocks 259-276, 280-290, 294-324), the
    seed's 50 epochs."""
    seeded("fastnn")
    (losses, accuracy), out = quiet(seed_003, "fastnn", 50)
    assert "Test accuracy" in out
    assert losses[-1] < 0.8 * losses[0]
    # chance 0.1. The seed's hidden layers have 3 sigmoid units: 0.2 to 0.5 after 50 epochs,
    # in fastnn and in Keras alike (which initial weights decide; from the same weights and
    # batches the two train to the same weights)
    assert accuracy > 0.2


def test_seed_003_validation_split_on_a_dataset_is_refused():
    """The seed's fit(dataset, validation_split=0.2) (line 288): a clear ValueError, as
    Keras raises."""
    model = fn.Sequential([fn.layers.Dense(10, input_shape=(64,))])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = load_digits()
    dataset = fn.data.Dataset.from_tensor_slices((x, y)).batch(64)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(dataset, epochs=1, validation_split=0.2, verbose=0)


def test_seed_003_like_keras():
    pytest.importorskip("tensorflow")
    seeded("keras")
    (_, theirs), _ = quiet(seed_003, "keras", 50)
    seeded("fastnn")
    (_, mine), _ = quiet(seed_003, "fastnn", 50)
    assert theirs > 0.2 and abs(mine - theirs) < 0.25


# --- seed 004: an MNIST CNN and an MLP, PyTorch (004_37118c2a4aa31afa.txt) -----------------


def seed_004_cnn(lib, quick_epochs):
    """004_37118c2a4aa31afa.txt: the block at lines 203-272 (conv layers, ReLU and Softmax
    modules)."""
    if lib == "fastnn":
        import fastnn as torch
        import fastnn.nn as nn
    else:
        import torch
        import torch.nn as nn
    # data: `import torchvision.transforms as transforms` and
    # `from torchvision.datasets import MNIST` (no torchvision; see below)

    # 定义神经网络模型
    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
            self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
            self.fc1 = nn.Linear(320, 50)
            self.fc2 = nn.Linear(50, 10)
            self.relu = nn.ReLU()
            self.softmax = nn.Softmax(dim=1)

        def forward(self, x):
            # seed bug: x.view(-1, 320) needs 20 maps of 4x4: PyTorch's MNIST example, which
            # this follows, max-pools 2x2 after each conv (without, 20x20x20 features make
            # 25 rows per image and the loss fails on the batch size)
            x = self.relu(nn.functional.max_pool2d(self.conv1(x), 2))
            x = self.relu(nn.functional.max_pool2d(self.conv2(x), 2))
            x = x.view(-1, 320)
            x = self.relu(self.fc1(x))
            x = self.softmax(self.fc2(x))
            return x

    # 定义超参数
    learning_rate = 0.001
    num_epochs = quick_epochs  # quick: the seed's num_epochs = 10
    batch_size = 64
    device = torch.device('cpu')  # seed bug: device is used but never defined

    # data: MNIST(root='./data', train=..., transform=transforms.ToTensor()) -> the bundled
    # digits as 1x28x28 float images in [0, 1] with int64 labels
    (x_train, y_train), (x_test, y_test) = digits_nchw(28, 1)
    train_dataset = torch.utils.data.TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train))  # noqa: E501
    test_dataset = torch.utils.data.TensorDataset(torch.from_numpy(x_test), torch.from_numpy(y_test))  # noqa: E501

    # 定义数据加载器
    train_loader = torch.utils.data.DataLoader(train_dataset, batch_size=batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_dataset, batch_size=batch_size, shuffle=False)

    # 初始化模型和优化器
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    loss_fn = nn.CrossEntropyLoss()
    losses = []  # (the test's record of the losses)

    # 训练模型
    for epoch in range(num_epochs):
        for batch_idx, (inputs, targets) in enumerate(train_loader):
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if (batch_idx+1) % 100 == 0:
                print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                    epoch+1, batch_idx*len(inputs), len(train_loader.dataset),
                    100. * batch_idx/len(train_loader), loss.item()))

    # 测试模型
    correct = 0
    total = 0
    with torch.no_grad():
        for inputs, targets in test_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            outputs = model(inputs)
            _, predicted = torch.max(outputs.data, 1)
            total += targets.size(0)
            correct += (predicted == targets).sum().item()

    print('Accuracy of the network on the 10000 test images: %d %%' % (100 * correct / total))
    return losses, correct / total


def seed_004_mlp(lib, quick_epochs):
    """004_37118c2a4aa31afa.txt: the block at lines 309-372 (an MLP on flattened images)."""
    if lib == "fastnn":
        import fastnn as torch
        import fastnn.nn as nn
        import fastnn.optim as optim
    else:
        import torch
        import torch.nn as nn
        import torch.optim as optim

    # 定义神经网络模型
    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.fc1 = nn.Linear(784, 256)
            self.fc2 = nn.Linear(256, 10)
            self.relu = nn.ReLU()

        def forward(self, x):
            x = x.view(-1, 784)
            x = self.relu(self.fc1(x))
            x = self.fc2(x)
            return x

    # 定义超参数
    learning_rate = 0.001
    num_epochs = quick_epochs  # quick: the seed's num_epochs = 10
    batch_size = 64
    device = torch.device('cpu')  # seed bug: device is used but never defined

    # data: torchvision.datasets.MNIST(..., transform=transforms.ToTensor()) (torchvision and
    # transforms are not even imported by the block) -> the bundled digits as 1x28x28 float
    # images in [0, 1] with int64 labels
    (x_train, y_train), (x_test, y_test) = digits_nchw(28, 1)
    train_dataset = torch.utils.data.TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train))  # noqa: E501
    test_dataset = torch.utils.data.TensorDataset(torch.from_numpy(x_test), torch.from_numpy(y_test))  # noqa: E501

    # 定义数据加载器
    train_loader = torch.utils.data.DataLoader(train_dataset, batch_size=batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_dataset, batch_size=batch_size, shuffle=False)

    # 初始化模型和优化器
    model = Net()
    optimizer = optim.Adam(model.parameters(), lr=learning_rate)
    loss_fn = nn.CrossEntropyLoss()
    losses = []  # (the test's record of the losses)

    # 训练模型
    for epoch in range(num_epochs):
        for batch_idx, (inputs, targets) in enumerate(train_loader):
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if (batch_idx+1) % 100 == 0:
                print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                    epoch+1, batch_idx*len(inputs), len(train_loader.dataset),
                    100. * batch_idx/len(train_loader), loss.item()))

    # 测试模型
    correct = 0
    total = 0
    with torch.no_grad():
        for inputs, targets in test_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            outputs = model(inputs)
            _, predicted = torch.max(outputs.data, 1)
            total += targets.size(0)
            correct += (predicted == targets).sum().item()

    print('Accuracy of the network on the 10000 test images: %d %%' % (100 * correct / total))
    return losses, correct / total


SEED_004_EPOCHS = {"cnn": (seed_004_cnn, 3), "mlp": (seed_004_mlp, 3)}


@pytest.mark.parametrize("block", sorted(SEED_004_EPOCHS))
def test_seed_004_learns(block):
    """004_37118c2a4aa31afa.txt: "cnn" is the block at lines 203-272, "mlp" the block at
    lines 309-372."""
    run, epochs = SEED_004_EPOCHS[block]
    seeded("fastnn")
    (losses, accuracy), out = quiet(run, "fastnn", epochs)
    assert "Accuracy of the network" in out
    # (the CNN's softmax output goes into CrossEntropyLoss, which applies its own: the loss
    # cannot fall below -log(e / (e + 9)) = 1.46)
    assert np.mean(losses[-5:]) < 0.85 * np.mean(losses[:5])
    assert accuracy > 0.7  # chance 0.1


@pytest.mark.parametrize("block", sorted(SEED_004_EPOCHS))
def test_seed_004_like_torch(block):
    pytest.importorskip("torch")
    run, epochs = SEED_004_EPOCHS[block]
    seeded("torch")
    (_, theirs), _ = quiet(run, "torch", epochs)
    seeded("fastnn")
    (_, mine), _ = quiet(run, "fastnn", epochs)
    assert theirs > 0.7 and abs(mine - theirs) < 0.1
