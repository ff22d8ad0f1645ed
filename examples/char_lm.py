"""A character-level language model, Keras's lstm_text_generation recipe: windows of `maxlen`
characters (stepped by 3; by 1 for the short default text) predict the character that follows;
Embedding -> LSTM(128) -> Dense(vocabulary) logits trained with sparse categorical
cross-entropy. After training it writes text one character at a time: the last window's logits,
divided by a temperature, go through a softmax and the next character is drawn from it.

Run: python examples/char_lm.py [--text PATH] [--epochs N] (or FASTNN_TEXT=PATH). The default
text is the Zen of Python (`import this`), always at hand and short (under a thousand
characters), so the model mostly learns to recite it; a book-length text needs more epochs
and time. It reports how often the model's most likely next character is right on the
training windows, against always guessing the text's most frequent character.
"""

import argparse
import codecs
import contextlib
import io
import os
import sys

import numpy as np

import fastnn as fn
from fastnn import layers


def zen_of_python():
    with contextlib.redirect_stdout(io.StringIO()):  # importing `this` prints the Zen
        import this
    return codecs.decode(this.s, "rot13")


def sample(logits, temperature, rng):
    """Draws an index from softmax(logits / temperature)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    p = np.exp(z - z.max())
    return int(rng.choice(len(p), p=p / p.sum()))


parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--text", default=os.environ.get("FASTNN_TEXT"),
                    help="a UTF-8 text file to learn (default: the Zen of Python)")
parser.add_argument("--epochs", type=int, default=None, help="default 15 (3 with --quick)")
parser.add_argument("--maxlen", type=int, default=40, help="characters per window")
parser.add_argument("--step", type=int, default=None,
                    help="characters between window starts (default 3; 1 for the Zen)")
parser.add_argument("--length", type=int, default=None,
                    help="characters to generate (default 200; 50 with --quick)")
parser.add_argument("--quick", action="store_true",
                    default=os.environ.get("FASTNN_EXAMPLE_QUICK", "0") != "0",
                    help="a short run, as the tests do (or FASTNN_EXAMPLE_QUICK=1)")
args = parser.parse_args()

text = (open(args.text, encoding="utf-8").read() if args.text else zen_of_python())
# Keras's recipe steps windows by 3, plenty for a book. The Zen is too short for that: a
# model that saw only windows starting at multiples of 3 has memorised those and, sampling
# (the window moves by 1 each character), mostly meets windows it has never seen; so every
# window of the Zen is used.
maxlen, step = args.maxlen, args.step or (3 if args.text else 1)
if len(text) <= maxlen:
    sys.exit(f"the text has {len(text)} characters; it needs more than maxlen={maxlen}")
chars = sorted(set(text))
char_id = {c: i for i, c in enumerate(chars)}
ids = np.array([char_id[c] for c in text], dtype=np.int32)

# Every window of maxlen characters starting at a multiple of step, and the character after.
starts = np.arange(0, len(text) - maxlen, step)
x = np.stack([ids[s:s + maxlen] for s in starts])  # (windows, maxlen) ids
y = ids[starts + maxlen]  # (windows,) ids
print(f"{len(text)} characters, {len(chars)} distinct, {len(x)} windows of {maxlen}")

fn.manual_seed(0)
model = fn.Sequential([
    layers.Embedding(len(chars), 32),
    layers.LSTM(128),
    layers.Dense(len(chars)),  # logits of the next character
], input_shape=(maxlen,))
model.summary()
model.compile(optimizer=fn.optimizers.Adam(learning_rate=0.01),
              loss=fn.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
epochs = int(os.environ.get("FASTNN_EXAMPLE_EPOCHS") or args.epochs or (3 if args.quick else 15))
model.fit(x, y, epochs=epochs, batch_size=32, verbose=2)
_, accuracy = model.evaluate(x, y)
baseline = np.bincount(y).max() / len(y)  # always the most frequent next character

rng = np.random.default_rng(0)
start = int(rng.integers(0, len(text) - maxlen))
for temperature in (0.2, 1.0):
    window = list(ids[start:start + maxlen])
    generated = []
    for _ in range(args.length or (50 if args.quick else 200)):
        logits = model.predict(np.array([window], dtype=np.int32))[0]
        nxt = sample(logits, temperature, rng)
        generated.append(chars[nxt])
        window = window[1:] + [nxt]
    print(f"--- temperature {temperature}, seeded with {text[start:start + maxlen]!r}:")
    print(text[start:start + maxlen] + "".join(generated))
print(f"next-character accuracy {accuracy:.4f} (baseline {baseline:.4f})")
