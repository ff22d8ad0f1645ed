"""Sentiment classification with an LSTM, Keras style: words -> ids (a word index of the
most frequent words, 0 = padding, 1 = out of vocabulary) -> pad_sequences ->
Embedding -> LSTM -> Dense(1, sigmoid), trained with binary cross-entropy.

Real reviews: a directory with pos/ and neg/ subfolders of .txt files (the IMDB layout;
the aclImdb directory itself, with train/ and test/ inside, works too):
    python examples/lstm_text_classifier.py --data /path/to/aclImdb
    (or FASTNN_TEXT_DATA=/path/to/aclImdb)
Without one it trains on a small synthetic corpus made here (a few seconds): short reviews
of 5-40 words whose opinion words can be negated ("not good", "never boring"), so the
words alone do not give the label, their order does.
"""

import argparse
import collections
import os
import pathlib
import re
import sys

import numpy as np

import fastnn as fn
from fastnn import layers
from fastnn.datasets import train_test_split

POSITIVE = ["good", "great", "excellent", "wonderful", "enjoyable", "brilliant", "fun",
            "lovely", "superb", "moving", "clever", "charming"]
NEGATIVE = ["bad", "terrible", "awful", "boring", "dull", "poor", "horrible", "weak",
            "disappointing", "mediocre", "silly", "predictable"]
# Opinion words negated: counting words gets most reviews right, all of them only reading
# "not good" as negative does.
NEGATION_RATE = 0.3
NEGATIONS = ["not", "never", "hardly", "far from"]
INTENSIFIERS = ["very", "really", "quite", "truly", "rather"]
SUBJECTS = ["the movie", "this film", "the plot", "the acting", "the story", "the ending",
            "the soundtrack", "the cast", "the script", "the director's work", "it"]
FILLER = ("i saw this one last week with a friend and we talked about it for a while after "
          "the cinema was full the popcorn was cold and the seats were old but that is "
          "another story my sister had read the book before so she knew what would happen "
          "in the second half of the film there were two long scenes in a train and one "
          "at night by the sea").split()


def pick(rng, words):
    return words[rng.integers(len(words))]  # rng.choice is slow on a list


def opinion(rng, polarity):
    """A clause saying `polarity` (+1 or -1): '<subject> was [not] [very] <word>'."""
    negated = rng.random() < NEGATION_RATE
    word_polarity = -polarity if negated else polarity
    word = pick(rng, POSITIVE if word_polarity > 0 else NEGATIVE)
    parts = [pick(rng, SUBJECTS), pick(rng, ["was", "is", "felt", "seemed"])]
    if negated:
        parts.append(pick(rng, NEGATIONS))
    if rng.random() < 0.4:
        parts.append(pick(rng, INTENSIFIERS))
    parts.append(word)
    return " ".join(parts).split()


def synthetic_corpus(n, seed=0):
    """n reviews (strings) and labels (1 positive, 0 negative), deterministic in seed. Each
    has one to three opinion clauses that agree (NEGATION_RATE of them negated) among filler
    words; 5 to 40 words long."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        label = int(rng.integers(0, 2))
        length = int(rng.integers(5, 41))
        clauses = [opinion(rng, 1 if label else -1) for _ in range(rng.integers(1, 4))]
        while len(clauses) > 1 and sum(map(len, clauses)) > length:
            clauses.pop()
        clauses[0] = clauses[0][-length:]  # a 5-word review may lose the clause's subject
        filler = length - sum(map(len, clauses))
        start = int(rng.integers(0, len(FILLER)))
        words = [FILLER[(start + k) % len(FILLER)] for k in range(filler)]
        for clause in clauses:  # each clause goes in at a random place among the filler
            at = int(rng.integers(0, len(words) + 1))
            words[at:at] = clause
        texts.append(" ".join(words))
        labels.append(label)
    return texts, np.array(labels, dtype=np.int64)


def read_folder(directory):
    """Texts and labels (1 for pos/, 0 for neg/) from a directory of pos/ and neg/."""
    texts, labels = [], []
    for label, name in ((1, "pos"), (0, "neg")):
        for path in sorted((directory / name).glob("*.txt")):
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
            labels.append(label)
    return texts, np.array(labels, dtype=np.int64)


def tokenize(text):
    return re.findall(r"[a-z0-9']+", text.lower().replace("<br />", " "))


class WordIndex:
    """Keras's Tokenizer(num_words, oov_token) in a few lines: ids 2.. for the
    num_words - 2 most frequent words of the texts it is fitted on, 1 for the others,
    0 left for padding."""

    def __init__(self, texts, num_words):
        counts = collections.Counter(w for text in texts for w in tokenize(text))
        ranked = sorted(counts, key=lambda w: (-counts[w], w))[:num_words - 2]
        self.index = {w: i + 2 for i, w in enumerate(ranked)}
        self.num_words = len(self.index) + 2

    def __call__(self, texts):
        return [[self.index.get(w, 1) for w in tokenize(text)] for text in texts]


parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--data", default=os.environ.get("FASTNN_TEXT_DATA"),
                    help="a directory with pos/ and neg/ .txt files (default: synthetic)")
parser.add_argument("--epochs", type=int, default=None,
                    help="default 20 on the synthetic corpus (5 with --quick), 3 on --data")
parser.add_argument("--quick", action="store_true",
                    default=os.environ.get("FASTNN_EXAMPLE_QUICK", "0") != "0",
                    help="a short run, as the tests do (or FASTNN_EXAMPLE_QUICK=1)")
args = parser.parse_args()

fn.manual_seed(0)
if args.data:
    root = pathlib.Path(args.data)
    if (root / "train" / "pos").is_dir() and (root / "test" / "pos").is_dir():
        train_texts, y_train = read_folder(root / "train")
        test_texts, y_test = read_folder(root / "test")
    else:
        texts, labels = read_folder(root)
        order = np.random.default_rng(0).permutation(len(texts))
        n_test = len(texts) // 4
        test_texts = [texts[i] for i in order[:n_test]]
        train_texts = [texts[i] for i in order[n_test:]]
        y_test, y_train = labels[order[:n_test]], labels[order[n_test:]]
    if not train_texts or not test_texts:
        sys.exit(f"no .txt files found under {root}/pos and {root}/neg")
    num_words, maxlen, epochs = 10000, 200, 3
else:
    texts, labels = synthetic_corpus(2400, seed=0)
    train_texts, test_texts, y_train, y_test = train_test_split(
        np.array(texts, dtype=object), labels, test_size=0.25, seed=0)
    num_words, maxlen, epochs = 1000, 40, (5 if args.quick else 20)
epochs = int(os.environ.get("FASTNN_EXAMPLE_EPOCHS") or args.epochs or epochs)

word_index = WordIndex(train_texts, num_words)  # fitted on the training texts only
# Padding goes before the words (padding="pre", Keras's default). mask_zero=True marks id 0
# as padding: the LSTM skips those steps, so a text reads the same however much it is padded.
x_train = fn.utils.pad_sequences(word_index(train_texts), maxlen=maxlen)
x_test = fn.utils.pad_sequences(word_index(test_texts), maxlen=maxlen)
print(f"{len(x_train)} training and {len(x_test)} test texts, vocabulary "
      f"{word_index.num_words}, sequences padded to {maxlen}")
print("example:", train_texts[0][:200], "->", y_train[0])

model = fn.Sequential([
    layers.Embedding(word_index.num_words, 32, mask_zero=True),
    layers.LSTM(32),
    layers.Dense(1, activation="sigmoid"),
], input_shape=(maxlen,))
model.summary()
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.2, verbose=2)

loss, accuracy = model.evaluate(x_test, y_test)

new_reviews = [
    "the movie was not good at all",
    "a truly wonderful film and the cast was charming",
    "i thought the plot was not bad",
    "the acting was boring and the ending was really predictable",
    "it was never dull",
]
probabilities = model.predict(fn.utils.pad_sequences(word_index(new_reviews),
                                                     maxlen=maxlen))[:, 0]
for review, p in zip(new_reviews, probabilities):
    print(f"{'positive' if p > 0.5 else 'negative'} ({p:.2f}): {review}")
print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")
