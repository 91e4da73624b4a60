"""The lesson-00 and lesson-01 checkers: each accepts a right answer and names each usual slip.

The references the checkers use are checked against independent implementations: the BPE
replay against the Rust ``tokenizers`` model on thousands of real words, the padding
reference against ``transformers``' and hfexplain's ``tokenizer.pad``.
"""
from __future__ import annotations

import pytest
import torch
from tokenizers import Tokenizer as BackendTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers

from hfexplain import Tokenizer
from hfexplain.exercises.tokenization import (
    PAD_BATCH_CASES,
    _reference_padding,
    bpe_reference_steps,
    check_bpe_word,
    check_next_token_text,
    check_pad_batch,
    read_merges,
)


@pytest.fixture(scope="module")
def topics():
    from pydoc_data.topics import topics

    return [topics[name] for name in sorted(topics)]


@pytest.fixture(scope="module")
def bpe(topics):
    """A byte-level BPE trained on CPython's help topics, as lesson 01 trains it (~0.3 s)."""
    backend = BackendTokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1000,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(topics, trainer)
    return backend


# ---------------------------------------------------------------------------------------------
# check_bpe_word
# ---------------------------------------------------------------------------------------------


def solution_bpe_word(word, merges):
    ranks = {pair: rank for rank, pair in enumerate(merges)}
    symbols = list(word)
    while len(symbols) > 1:
        pairs = [(ranks.get((symbols[i], symbols[i + 1])), i) for i in range(len(symbols) - 1)]
        pairs = [(rank, i) for rank, i in pairs if rank is not None]
        if not pairs:
            break
        _, i = min(pairs)
        symbols = symbols[:i] + [symbols[i] + symbols[i + 1]] + symbols[i + 2:]
    return symbols


def test_replay_equals_the_rust_bpe_on_real_words(bpe, topics):
    merges = read_merges(bpe)
    words = {piece for text in topics for piece, _ in bpe.pre_tokenizer.pre_tokenize_str(text)}
    assert len(words) > 5000
    for word in sorted(words):
        expected = [token.value for token in bpe.model.tokenize(word)]
        assert bpe_reference_steps(word, merges)[-1][0] == expected, word


def test_accepts_the_solution(bpe):
    result = check_bpe_word(solution_bpe_word, bpe)
    assert result.passed, str(result)
    assert "split exactly as tokenizers splits them" in str(result)


def test_accepts_an_hfexplain_or_transformers_tokenizer_too(bpe):
    assert check_bpe_word(solution_bpe_word, Tokenizer(tokenizer_object=bpe)).passed
    transformers = pytest.importorskip("transformers")
    assert check_bpe_word(solution_bpe_word, transformers.PreTrainedTokenizerFast(tokenizer_object=bpe)).passed


def _leftmost_first(word, merges):
    ranks = {pair: rank for rank, pair in enumerate(merges)}
    symbols = list(word)
    merged = True
    while merged:
        merged = False
        for i in range(len(symbols) - 1):
            if (symbols[i], symbols[i + 1]) in ranks:
                symbols = symbols[:i] + [symbols[i] + symbols[i + 1]] + symbols[i + 2:]
                merged = True
                break
    return symbols


def _highest_rank_first(word, merges):
    ranks = {pair: rank for rank, pair in enumerate(merges)}
    symbols = list(word)
    while True:
        pairs = [(ranks[(symbols[i], symbols[i + 1])], i) for i in range(len(symbols) - 1) if (symbols[i], symbols[i + 1]) in ranks]
        if not pairs:
            return symbols
        _, i = max(pairs)
        symbols = symbols[:i] + [symbols[i] + symbols[i + 1]] + symbols[i + 2:]


def _one_merge_only(word, merges):
    ranks = {pair: rank for rank, pair in enumerate(merges)}
    symbols = list(word)
    pairs = [(ranks[(symbols[i], symbols[i + 1])], i) for i in range(len(symbols) - 1) if (symbols[i], symbols[i + 1]) in ranks]
    if pairs:
        _, i = min(pairs)
        symbols = symbols[:i] + [symbols[i] + symbols[i + 1]] + symbols[i + 2:]
    return symbols


def _drops_the_right_symbol(word, merges):
    ranks = {pair: rank for rank, pair in enumerate(merges)}
    symbols = list(word)
    while len(symbols) > 1:
        pairs = [(ranks[(symbols[i], symbols[i + 1])], i) for i in range(len(symbols) - 1) if (symbols[i], symbols[i + 1]) in ranks]
        if not pairs:
            break
        _, i = min(pairs)
        symbols = symbols[:i] + [symbols[i]] + symbols[i + 2:]  # forgot to add the right symbol
    return symbols


def _skips_merges_with_g(word, merges):
    """Never merges a pair whose left symbol is 'Ġ' (the space): a missing merge."""
    return solution_bpe_word(word, [pair for pair in merges if pair[0] != "Ġ"])


def _extra_join(word, merges):
    pieces = solution_bpe_word(word, merges)
    if len(pieces) > 1:
        pieces = pieces[:-2] + [pieces[-2] + pieces[-1]]
    return pieces


@pytest.mark.parametrize(
    "answer, message",
    [
        (_leftmost_first, "you merged the LEFTMOST pair that has a rule"),
        (_highest_rank_first, "you merged the pair with the HIGHEST rank first"),
        (_one_merge_only, "you stopped after 1 merge(s)"),
        (lambda word, merges: list(word), "no merge was applied"),
        (_drops_the_right_symbol, "join to"),
        (_skips_merges_with_g, "The first merge your answer misses is 'Ġ' + "),
        (_extra_join, "which tokenizers does not do here"),
        (lambda word, merges: "".join(solution_bpe_word(word, merges)), "not one str"),
        (lambda word, merges: None, "returned None"),
        (lambda word, merges: tuple(solution_bpe_word(word, merges)) and 42, "got int 42"),
    ],
)
def test_rejects_each_slip_with_its_message(bpe, answer, message):
    result = check_bpe_word(answer, bpe)
    assert not result.passed
    assert message in str(result), str(result)


def test_the_missing_merge_is_named_exactly(bpe):
    merges = read_merges(bpe)
    rank = merges.index(("Ġ", "t"))
    result = check_bpe_word(_skips_merges_with_g, bpe, words=["Ġthe"])
    assert f"The first merge your answer misses is 'Ġ' + 't' -> 'Ġt' (rank {rank})." in str(result), str(result)


def test_an_exception_in_the_answer_is_reported_not_raised(bpe):
    def broken(word, merges):
        raise KeyError("oops")

    result = check_bpe_word(broken, bpe)
    assert not result.passed
    assert "your function raised KeyError" in str(result)


def test_the_checker_refuses_a_wordpiece_tokenizer(topics):
    backend = BackendTokenizer(models.WordPiece(unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.train_from_iterator(topics[:5], trainers.WordPieceTrainer(vocab_size=200, special_tokens=["[UNK]"], show_progress=False))
    with pytest.raises(ValueError, match="not BPE: it has no merges. Pass the BPE tokenizer"):
        check_bpe_word(solution_bpe_word, backend)


# ---------------------------------------------------------------------------------------------
# check_pad_batch
# ---------------------------------------------------------------------------------------------


def solution_pad_batch(sequences, pad_token_id, padding_side="right"):
    longest = max(len(row) for row in sequences)
    ids, mask = [], []
    for row in sequences:
        pad = [pad_token_id] * (longest - len(row))
        ones, zeros = [1] * len(row), [0] * len(pad)
        ids.append(row + pad if padding_side == "right" else pad + row)
        mask.append(ones + zeros if padding_side == "right" else zeros + ones)
    return torch.tensor(ids), torch.tensor(mask)


@pytest.mark.parametrize("sequences, pad_id, side", PAD_BATCH_CASES)
def test_padding_reference_equals_transformers_and_hfexplain(bpe, sequences, pad_id, side):
    transformers = pytest.importorskip("transformers")
    pad_token = bpe.id_to_token(pad_id)
    theirs = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe, pad_token=pad_token)
    ours = Tokenizer(tokenizer_object=bpe, pad_token=pad_token)
    ids, mask = _reference_padding(sequences, pad_id, side)
    for tok in (theirs, ours):
        assert tok.pad_token_id == pad_id
        padded = tok.pad({"input_ids": sequences}, padding=True, padding_side=side, return_tensors="pt")
        assert torch.equal(padded["input_ids"], ids)
        assert torch.equal(padded["attention_mask"], mask)


def test_accepts_the_padding_solution():
    result = check_pad_batch(solution_pad_batch)
    assert result.passed, str(result)


def _swap_sides(sequences, pad_token_id, padding_side="right"):
    return solution_pad_batch(sequences, pad_token_id, "left" if padding_side == "right" else "right")


def _inverted_mask(sequences, pad_token_id, padding_side="right"):
    ids, mask = solution_pad_batch(sequences, pad_token_id, padding_side)
    return ids, 1 - mask


def _pads_with_zero(sequences, pad_token_id, padding_side="right"):
    return solution_pad_batch(sequences, 0, padding_side)


def _fixed_length(sequences, pad_token_id, padding_side="right"):
    ids, mask = solution_pad_batch(sequences + [[1] * 8], pad_token_id, padding_side)
    return ids[:-1], mask[:-1]


def _mask_always_right(sequences, pad_token_id, padding_side="right"):
    ids, _ = solution_pad_batch(sequences, pad_token_id, padding_side)
    _, mask = solution_pad_batch(sequences, pad_token_id, "right")
    return ids, mask


@pytest.mark.parametrize(
    "answer, message",
    [
        (_swap_sides, "you padded on the left; padding_side='right'"),
        (_inverted_mask, "the mask is the wrong way round"),
        (_pads_with_zero, "the padding positions hold [0], but they should hold pad_token_id=3"),
        (_fixed_length, "pad to the LONGEST sequence of the batch (4 tokens)"),
        (_mask_always_right, "the mask's zeros are on the right"),
        (lambda s, p, side="right": (solution_pad_batch(s, p, side)[0], torch.ones_like(solution_pad_batch(s, p, side)[1])),
         "the mask is all ones"),
        (lambda s, p, side="right": (solution_pad_batch(s, p, side)[0], solution_pad_batch(s, p, side)[1].float()),
         "attention_mask has dtype torch.float32"),
        (lambda s, p, side="right": (solution_pad_batch(s, p, side)[0].int(), solution_pad_batch(s, p, side)[1]),
         "input_ids has dtype torch.int32"),
        (lambda s, p, side="right": (solution_pad_batch(s, p, side)[0].T, solution_pad_batch(s, p, side)[1]),
         "input_ids has shape (4, 3) but should have (3, 4). The same sizes in another order"),
        (lambda s, p, side="right": ([list(r) for r in solution_pad_batch(s, p, side)[0].tolist()], None),
         "input_ids should be a torch.Tensor, got list"),
        (lambda s, p, side="right": solution_pad_batch(s, p, side)[0], "return two tensors"),
        (lambda s, p, side="right": None, "returned None"),
        (lambda s, p, side="right": (torch.tensor([]), torch.tensor([])), "input_ids is empty"),
    ],
)
def test_rejects_each_padding_slip_with_its_message(answer, message):
    result = check_pad_batch(answer)
    assert not result.passed
    assert message in str(result), str(result)


def test_padding_exception_is_reported():
    def broken(sequences, pad_token_id, padding_side="right"):
        return torch.tensor(sequences), None  # ragged lists: torch raises

    result = check_pad_batch(broken)
    assert not result.passed
    assert "your function raised ValueError" in str(result), str(result)


# ---------------------------------------------------------------------------------------------
# check_next_token_text (lesson 00)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tok(bpe):
    return Tokenizer(tokenizer_object=bpe, eos_token="<|endoftext|>")


def solution_next_token_text(logits, tokenizer):
    return tokenizer.decode([int(logits[0, -1].argmax())])


def test_accepts_the_next_token_solution(tok):
    result = check_next_token_text(solution_next_token_text, tok)
    assert result.passed, str(result)
    # the token it names comes from the checker's own logits, not the model's: it says so
    assert "made-up logits (seeded random numbers, not the model's)" in str(result)


def test_accepts_a_transformers_tokenizer(bpe):
    transformers = pytest.importorskip("transformers")
    theirs = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe)
    assert check_next_token_text(solution_next_token_text, theirs).passed


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda logits, tok: tok.decode([int(logits[0, 0].argmax())]), "the prediction at the FIRST position"),
        (lambda logits, tok: tok.decode(logits[0].argmax(-1).tolist()), "the most likely token at EVERY position"),
        (lambda logits, tok: tok.decode([int(logits[0, -1].argmin())]), "the LEAST likely token (argmin)"),
        (lambda logits, tok: tok.decode([int(logits[0].argmax(0)[-1])]), "argmax over the sequence axis"),
        (lambda logits, tok: int(logits[0, -1].argmax()), "you returned the token id"),
        (lambda logits, tok: logits[0, -1].argmax(), "you returned the token id"),
        (lambda logits, tok: tok.decode([int(logits[0, -1].argmax())]).strip(), "do not strip or change"),
        (lambda logits, tok: None, "returned None"),
        (lambda logits, tok: [tok.decode([int(logits[0, -1].argmax())])], "return the text as a str, got a list"),
        (lambda logits, tok: int(logits[0, 0].argmax()), "not a value of type int"),
    ],
)
def test_rejects_each_next_token_slip(tok, answer, message):
    result = check_next_token_text(answer, tok)
    assert not result.passed
    assert message in str(result), str(result)


def test_the_checker_leaves_the_global_rng_alone(tok):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    check_next_token_text(solution_next_token_text, tok)
    assert torch.equal(torch.rand(3), expected)


def test_works_with_the_packaged_tiny_gpt2_tokenizer():
    """The tokenizer lesson 00 uses: the checker accepts the solution and catches a stripped answer."""
    from hfexplain import AutoTokenizer
    from hfexplain.assets import tiny_gpt2_path

    try:
        path = tiny_gpt2_path()
    except FileNotFoundError:
        pytest.skip("the packaged tiny GPT-2 is not built")
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert check_next_token_text(solution_next_token_text, tokenizer).passed
    stripped = check_next_token_text(lambda logits, tok: tok.decode([int(logits[0, -1].argmax())]).strip(), tokenizer)
    assert "do not strip or change" in str(stripped), str(stripped)
