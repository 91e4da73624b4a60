"""T5 against transformers on the same weights (tiny random configs saved by transformers).

Relu and gated-gelu feed-forwards, tied (rescaled) and untied heads, a v1.1-style checkpoint
with its own ``lm_head``, padded sources (left and right) and a padded target: logits, every
encoder and decoder hidden state, self and cross attentions (1e-5), the fast path, labels ->
loss, the hook vocabulary on both stacks (``cache["cross_pattern", l, "decoder"]``), greedy and
beam generation (length_penalty, no_repeat_ngram_size), min_new_tokens and sampling with one seed, with
the cache on and off, the step-by-step explainer, our save in
transformers, the position buckets against transformers' and by hand, and the named errors.
"""
from __future__ import annotations

import json
import os
import warnings

import pytest
import torch
from safetensors.torch import load_file, save_file

import parity
from hfexplain import AutoModelForSeq2SeqLM
from hfexplain.generation import explain_generation
from hfexplain.models.t5 import (
    T5Config,
    T5EncoderModel,
    T5ForConditionalGeneration,
    T5Model,
    relative_position_bucket,
)

transformers = parity.quiet_transformers()
ATOL = parity.ATOL

BASE = dict(vocab_size=61, d_model=20, d_kv=6, d_ff=28, num_heads=3, relative_attention_num_buckets=8,
            relative_attention_max_distance=12, dropout_rate=0.0, decoder_start_token_id=0)
CONFIGS = {
    "relu-tied": dict(BASE, num_layers=2, num_decoder_layers=3, feed_forward_proj="relu"),
    "gated-no-rescale": dict(BASE, num_layers=3, num_decoder_layers=2, feed_forward_proj="gated-gelu",
                             tie_word_embeddings=False),
}


def save_reference(reference_class, config_kwargs, folder, untie_head=False):
    """A transformers-saved checkpoint; ``untie_head``: rewrite it as T5 v1.1 ships, with its
    own ``lm_head.weight`` and ``tie_word_embeddings: false``."""
    folder, _ = parity.save_reference(reference_class, config_kwargs, folder)
    if untie_head:
        path = os.path.join(folder, "model.safetensors")
        weights = load_file(path)
        weights["lm_head.weight"] = torch.randn(weights["shared.weight"].shape, generator=torch.Generator().manual_seed(3))
        save_file(weights, path, metadata={"format": "pt"})
        with open(os.path.join(folder, "config.json")) as f:
            config = json.load(f)
        config.update(tie_word_embeddings=False, scale_decoder_outputs=False)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config, f)
    return folder


def load_both(reference_class, our_class, folder):
    reference = reference_class.from_pretrained(folder, attn_implementation="eager").eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every weight is the checkpoint's
        ours = our_class.from_pretrained(folder)
    return reference, ours


def seq2seq_inputs(config, seed=1):
    """Sources (3, 9): row 1 right-padded by 3, row 2 left-padded by 2 (T5 takes both); targets
    (3, 7) from decoder_start_token_id, row 1 right-padded by 2; labels (3, 7) with -100 at its pads."""
    generator = torch.Generator().manual_seed(seed)
    source = torch.randint(2, config.vocab_size, (3, 9), generator=generator)
    source_mask = torch.ones(3, 9, dtype=torch.long)
    source_mask[1, -3:] = 0
    source_mask[2, :2] = 0
    target = torch.randint(2, config.vocab_size, (3, 7), generator=generator)
    target[:, 0] = config.decoder_start_token_id
    target_mask = torch.ones(3, 7, dtype=torch.long)
    target_mask[1, -2:] = 0
    labels = torch.randint(2, config.vocab_size, (3, 7), generator=generator).masked_fill(target_mask == 0, -100)
    return dict(input_ids=source.masked_fill(source_mask == 0, config.pad_token_id), attention_mask=source_mask,
                decoder_input_ids=target.masked_fill(target_mask == 0, config.pad_token_id),
                decoder_attention_mask=target_mask), labels


def masked(tensor, rows):
    """Pad positions hold different garbage in each library: (b, s, ...) at real rows; (b, h, q, k)
    patterns with padded query rows zeroed."""
    if tensor.dim() == 4:
        return tensor * rows[:, None, :, None]
    return tensor[rows]


def assert_seq2seq_match(ours, theirs, source_real, target_real, what=""):
    """Every field of a Seq2Seq output (or an encoder's BaseModelOutput) against transformers'."""
    fields = {  # field -> the positions its rows are
        "logits": target_real, "last_hidden_state": target_real, "decoder_hidden_states": target_real,
        "decoder_attentions": target_real, "cross_attentions": target_real,
        "encoder_last_hidden_state": source_real, "encoder_hidden_states": source_real,
        "encoder_attentions": source_real, "hidden_states": source_real, "attentions": source_real,
    }
    compared = []
    for field, rows in fields.items():
        mine, ref = getattr(ours, field, None), getattr(theirs, field, None)
        if mine is None and not ref:
            continue
        assert mine is not None and ref is not None, f"{what}{field}: present in one output only"
        if isinstance(mine, tuple):
            assert len(mine) == len(ref), f"{what}{field}: {len(mine)} entries vs {len(ref)}"
            for i, (a, b) in enumerate(zip(mine, ref)):
                parity.assert_close(masked(a, rows), masked(b, rows), f"{what}{field}[{i}]")
        else:
            parity.assert_close(masked(mine, rows), masked(ref, rows), f"{what}{field}")
        compared.append(field)
    if getattr(theirs, "loss", None) is not None:
        parity.assert_close(ours.loss, theirs.loss, f"{what}loss")
        compared.append("loss")
    return compared


CASES = [pytest.param(name, False, id=name) for name in CONFIGS] + [pytest.param("gated-no-rescale", True,
                                                                                   id="gated-untied-head")]


@pytest.mark.parametrize("name, untie_head", CASES)
def test_conditional_generation_parity(name, untie_head, tmp_path):
    folder = save_reference(transformers.T5ForConditionalGeneration, CONFIGS[name], tmp_path / "ref", untie_head)
    reference, ours = load_both(transformers.T5ForConditionalGeneration, T5ForConditionalGeneration, folder)
    tied = ours.lm_head.weight is ours.shared.weight
    assert tied == (not untie_head) == (reference.lm_head.weight is reference.shared.weight)
    assert ours.config.scale_decoder_outputs == reference.config.scale_decoder_outputs == (name == "relu-tied")
    inputs, labels = seq2seq_inputs(ours.config)
    source_real, target_real = inputs["attention_mask"].bool(), inputs["decoder_attention_mask"].bool()
    with torch.no_grad():
        expected = reference(**inputs, labels=labels, output_hidden_states=True, output_attentions=True)
        actual = ours(**inputs, labels=labels, output_hidden_states=True, output_attentions=True)
    compared = assert_seq2seq_match(actual, expected, source_real, target_real)
    assert {"logits", "loss", "decoder_hidden_states", "cross_attentions", "encoder_hidden_states",
            "encoder_attentions", "decoder_attentions"} <= set(compared)
    assert len(actual.encoder_hidden_states) == ours.config.num_layers + 1
    assert len(actual.decoder_hidden_states) == ours.config.num_decoder_layers + 1

    # the fast path (nobody watches attention: SDPA) against transformers' default path
    reference_fast = transformers.T5ForConditionalGeneration.from_pretrained(folder).eval()
    with torch.no_grad():
        plain, plain_expected = ours(**inputs, labels=labels), reference_fast(**inputs, labels=labels)
    assert plain.cross_attentions is None and plain.encoder_hidden_states is None
    assert_seq2seq_match(plain, plain_expected, source_real, target_real, "fast path: ")

    # labels alone: shifted right behind decoder_start_token_id, the same loss as transformers
    only_labels = {k: v for k, v in inputs.items() if not k.startswith("decoder_")}
    with torch.no_grad():
        ours_loss = ours(**only_labels, labels=labels).loss
        parity.assert_close(ours_loss, reference(**only_labels, labels=labels).loss, "labels-only loss")
    assert torch.equal(ours._shift_right(labels), reference._shift_right(labels))

    # the hook vocabulary on both stacks
    with torch.no_grad():
        _, cache = ours.run_with_cache(**inputs)
    for layer in range(ours.config.num_layers):
        parity.assert_close(masked(cache["pattern", layer, "encoder"], source_real),
                            masked(expected.encoder_attentions[layer], source_real), f"encoder pattern {layer}")
        parity.assert_close(cache["resid_pre", layer, "encoder"][source_real],
                            expected.encoder_hidden_states[layer][source_real], f"encoder resid_pre {layer}")
    for layer in range(ours.config.num_decoder_layers):
        parity.assert_close(masked(cache["cross_pattern", layer, "decoder"], target_real),
                            masked(expected.cross_attentions[layer], target_real), f"cross_pattern {layer}")
        parity.assert_close(masked(cache["pattern", layer, "decoder"], target_real),
                            masked(expected.decoder_attentions[layer], target_real), f"decoder pattern {layer}")
        parity.assert_close(cache["resid_pre", layer, "decoder"][target_real],
                            expected.decoder_hidden_states[layer][target_real], f"decoder resid_pre {layer}")
    parity.assert_close(cache["embed", None, "encoder"], reference.shared(inputs["input_ids"]), "encoder embed")
    for stack, states, real in (("encoder", expected.encoder_hidden_states, source_real),
                                ("decoder", expected.decoder_hidden_states, target_real)):
        parity.assert_close(cache["final", None, stack][real], states[-1][real], f"{stack} final")
        parity.assert_close(cache.apply_final_norm(cache["resid_post", -1, stack], stack)[real], states[-1][real],
                            f"{stack} final norm")
    parity.assert_close(cache["logits"][target_real], expected.logits[target_real], "alias logits")

    # our save loads in transformers: the keys transformers writes, the same outputs
    saved = tmp_path / "ours"
    ours.save_pretrained(saved)
    assert parity.checkpoint_keys(saved) == parity.checkpoint_keys(folder)
    reloaded, info = transformers.T5ForConditionalGeneration.from_pretrained(
        saved, attn_implementation="eager", output_loading_info=True)
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    with torch.no_grad():
        assert_seq2seq_match(ours(**inputs, output_hidden_states=True, output_attentions=True),
                             reloaded.eval()(**inputs, output_hidden_states=True, output_attentions=True),
                             source_real, target_real, "saved: ")
    assert type(AutoModelForSeq2SeqLM.from_pretrained(saved)) is T5ForConditionalGeneration


@pytest.mark.parametrize("name", CONFIGS)
def test_base_and_encoder_models_parity(name, tmp_path):
    folder = save_reference(transformers.T5Model, CONFIGS[name], tmp_path / "ref")
    inputs, _ = seq2seq_inputs(T5Config(**CONFIGS[name]))
    source_real, target_real = inputs["attention_mask"].bool(), inputs["decoder_attention_mask"].bool()
    reference, ours = load_both(transformers.T5Model, T5Model, folder)
    with torch.no_grad():
        expected = reference(**inputs, output_hidden_states=True, output_attentions=True)
        actual = ours(**inputs, output_hidden_states=True, output_attentions=True)
    assert "last_hidden_state" in assert_seq2seq_match(actual, expected, source_real, target_real)
    # the encoder alone, from the same (encoder-decoder) checkpoint: the decoder's weights are skipped
    reference, ours = load_both(transformers.T5EncoderModel, T5EncoderModel, folder)
    encoder_inputs = {k: inputs[k] for k in ("input_ids", "attention_mask")}
    with torch.no_grad():
        expected = reference(**encoder_inputs, output_hidden_states=True, output_attentions=True)
        actual = ours(**encoder_inputs, output_hidden_states=True, output_attentions=True)
    assert set(assert_seq2seq_match(actual, expected, source_real, source_real)) == {
        "last_hidden_state", "hidden_states", "attentions"}
    saved = tmp_path / "encoder"
    ours.save_pretrained(saved)
    reloaded, info = transformers.T5EncoderModel.from_pretrained(saved, output_loading_info=True)
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys")), info


@pytest.fixture(scope="module")
def generation_pair(tmp_path_factory):
    folder = save_reference(transformers.T5ForConditionalGeneration, CONFIGS["gated-no-rescale"],
                            tmp_path_factory.mktemp("t5-generate"), untie_head=True)  # varied continuations
    return load_both(transformers.T5ForConditionalGeneration, T5ForConditionalGeneration, folder)


def generation_sources():
    source = torch.tensor([[5, 9, 14, 3, 22, 8, 40], [17, 4, 30, 11, 7, 0, 0], [0, 0, 33, 12, 50, 6, 2]])
    return source, (torch.arange(7)[None] < torch.tensor([[7], [5], [7]])).long() * (source != 0).long()


@pytest.mark.parametrize("settings", [
    pytest.param(dict(do_sample=False, max_new_tokens=8, eos_token_id=None), id="greedy"),
    pytest.param(dict(do_sample=False, max_new_tokens=8, eos_token_id=3), id="greedy-eos"),  # row 1 stops early
    pytest.param(dict(do_sample=False, max_new_tokens=8, min_new_tokens=5, eos_token_id=3), id="min-new-tokens"),
    pytest.param(dict(do_sample=True, top_k=10, temperature=0.8, max_new_tokens=8), id="sampling-same-seed"),
    pytest.param(dict(do_sample=False, num_beams=3, max_new_tokens=7, length_penalty=0.6, no_repeat_ngram_size=2,
                      early_stopping=True, num_return_sequences=2, eos_token_id=3), id="beam"),
])
def test_generate_matches_transformers_with_the_cache_on_and_off(generation_pair, settings):
    reference, ours = generation_pair
    source, mask = generation_sources()
    torch.manual_seed(5)
    expected = reference.generate(source, attention_mask=mask, **settings)
    for use_cache in (True, False):
        torch.manual_seed(5)
        actual = ours.generate(source, attention_mask=mask, use_cache=use_cache, **settings)
        assert torch.equal(actual, expected), f"use_cache={use_cache}:\n{actual}\n{expected}"
    assert expected[:, 0].eq(0).all()  # the decoder started at decoder_start_token_id (the pad, 0)


def test_explain_generation_follows_transformers_greedy(generation_pair):
    reference, ours = generation_pair
    source, mask = generation_sources()
    steps = explain_generation(ours, source[1:2], attention_mask=mask[1:2], max_new_tokens=6, eos_token_id=None,
                               top_n=3)
    expected = reference.generate(source[1:2], attention_mask=mask[1:2], max_new_tokens=6, eos_token_id=None,
                                  do_sample=False)
    assert [step.token_id for step in steps] == expected[0, 1:].tolist()
    assert [step.kv_cache_positions for step in steps] == list(range(1, 7))  # the decoder's positions


def test_decoding_step_by_step_with_the_cache_matches_transformers(generation_pair):
    """A prompt of 3 target tokens, then one token at a time, in both libraries (the watched,
    eager path on both sides): the decoder's relative bias is counted from the cached length,
    and the cross-attention keys are made once."""
    reference, ours = generation_pair
    source, mask = generation_sources()
    target = torch.tensor([[0, 53, 34, 14, 9, 21], [0, 45, 3, 15, 2, 8], [0, 21, 53, 36, 7, 5]])
    cross_keys_made = []

    def count(module, inputs, output):
        cross_keys_made.append(tuple(output.shape))

    handle = ours.decoder.block[0].layer[1].EncDecAttention.hook_k.register_forward_hook(count)
    logits = {}
    with torch.no_grad():
        for model in (reference, ours):
            encoder_outputs = model.get_encoder()(input_ids=source, attention_mask=mask, output_attentions=True)
            cache, steps = None, []
            for start, stop in ((0, 3), (3, 4), (4, 5), (5, 6)):
                out = model(encoder_outputs=encoder_outputs, attention_mask=mask, past_key_values=cache,
                            decoder_input_ids=target[:, start:stop], use_cache=True, output_attentions=True)
                cache = out.past_key_values
                steps.append(out.logits)
            logits[model is ours] = torch.cat(steps, dim=1)  # (b, t, v)
        handle.remove()
        full = ours(input_ids=source, attention_mask=mask, decoder_input_ids=target, output_attentions=True).logits
    parity.assert_close(logits[True], logits[False], "cached step-by-step logits")
    parity.assert_close(logits[True], full, "cached vs full", atol=1e-4)  # the same sums in another order (|logit| ~ 15)
    assert cross_keys_made == [(3, ours.config.num_heads, 7, ours.config.d_kv)]  # once, on the first step


def test_relative_position_buckets_match_transformers_and_a_hand_count():
    distances = torch.arange(-300, 301)[None, :]  # key - query
    for bidirectional in (True, False):
        for buckets, max_distance in ((32, 128), (8, 12), (10, 20)):
            theirs = transformers.models.t5.modeling_t5.T5Attention._relative_position_bucket(
                distances, bidirectional=bidirectional, num_buckets=buckets, max_distance=max_distance)
            assert torch.equal(relative_position_bucket(distances, bidirectional, buckets, max_distance), theirs)
    # by hand, T5's defaults (32 buckets, 128): the encoder gives 16 to each side, 8 exact ones
    hand = {0: 0, -1: 1, -7: 7, 1: 17, 7: 23, -8: 8, 8: 24, -300: 15, 300: 31, -127: 15}
    got = relative_position_bucket(torch.tensor(list(hand)), True, 32, 128)
    assert got.tolist() == list(hand.values())
    # the decoder looks left only: 32 buckets for the left, 16 exact; keys to the right are bucket 0
    hand = {0: 0, -1: 1, -15: 15, 5: 0, -1000: 31}
    assert relative_position_bucket(torch.tensor(list(hand)), False, 32, 128).tolist() == list(hand.values())


def test_only_the_first_block_of_each_stack_owns_the_bias_and_shares_it():
    model = T5ForConditionalGeneration(T5Config(**CONFIGS["relu-tied"]))
    owners = sorted(name for name, _ in model.named_parameters() if "relative_attention_bias" in name)
    assert owners == ["decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                      "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]
    # zeroing block 0's table zeroes every block's bias: the later blocks read block 0's
    source, mask = generation_sources()
    with torch.no_grad():
        model.encoder.block[0].layer[0].SelfAttention.relative_attention_bias.weight.zero_()
        _, cache = model.run_with_cache(input_ids=source, decoder_input_ids=source[:, :3])
        for layer in range(model.config.num_layers):
            q, k = cache["q", layer, "encoder"], cache["k", layer, "encoder"]
            parity.assert_close(cache["scores", layer, "encoder"], q @ k.transpose(-1, -2),
                                f"encoder scores {layer}: q k^T, no 1/sqrt(d) and no bias left")
    assert model.shared.weight is model.encoder.embed_tokens.weight is model.decoder.embed_tokens.weight
    assert model.lm_head.weight is model.shared.weight


def test_bad_input_is_named(generation_pair):
    _, ours = generation_pair
    source, mask = generation_sources()
    with pytest.raises(ValueError, match="feed_forward_proj='gated-relu-x'"):
        T5Config(feed_forward_proj="gated-relu-x")
    with pytest.raises(ValueError, match="feed_forward_proj='swish-gated'"):
        T5Config(feed_forward_proj="swish-gated")
    no_start = T5ForConditionalGeneration(T5Config(**dict(CONFIGS["relu-tied"], decoder_start_token_id=None)))
    with pytest.raises(ValueError, match="decoder_start_token_id"):
        no_start.generate(source, max_new_tokens=2)
    with pytest.raises(ValueError, match=r"config.decoder_start_token_id is not set.*decoder_start_token_id = 0"):
        no_start(input_ids=source, labels=source)
    with pytest.raises(ValueError, match=r"labels must be integer token ids of shape \(batch, target_length\)"):
        ours(input_ids=source, labels=source[0])
    with pytest.raises(ValueError, match="labels must be integer token ids"):
        ours(input_ids=source, labels=source.float())
    with pytest.raises(ValueError, match="labels have 2 rows but the source has 3"):
        ours(input_ids=source, labels=source[:2])
    with pytest.raises(ValueError, match=r"labels \(3, 4\) and decoder inputs \(3, 3\) differ in shape"):
        ours(input_ids=source, decoder_input_ids=source[:, :3], labels=source[:, :4])
    with pytest.raises(ValueError, match="pass exactly one of decoder_input_ids or decoder_inputs_embeds"):
        T5Model(ours.config)(input_ids=source)


def test_decompose_resid_on_the_decoder_counts_cross_attention():
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(T5Config(**CONFIGS["relu-tied"])).eval()
    inputs, _ = seq2seq_inputs(model.config)
    with torch.no_grad():
        _, cache = model.run_with_cache(**inputs)
    for stack in ("encoder", "decoder"):
        parts, labels = cache.decompose_resid(stack=stack, return_labels=True)
        assert ("0_cross_attn_out" in labels) == (stack == "decoder")
        stream = cache["resid_post", model.num_hook_layers(stack) - 1, stack]  # (b, s, d), before the final norm
        parity.assert_close(parts.sum(0), stream, f"{stack}: embeddings + every write = the stream")
