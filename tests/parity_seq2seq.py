"""Parity for encoder-decoders (BART, Marian ...): ``check_seq2seq_parity``, beside tests/parity.py.

tests/parity.py checks one stack; an encoder-decoder has two, and a decoder input. For one
class pair and one tiny config this:

1. saves a perturbed random transformers model and loads it strictly into ours;
2. feeds a padded source batch (parity.make_inputs) and a decoder input of another length
   (so encoder and decoder tensors cannot be confused) and compares every output field:
   logits, encoder and decoder hidden states, self and cross attentions (1e-5; padded
   source positions masked as in parity.py), on the watched and on the fast (SDPA) path;
3. checks the hook vocabulary on both stacks against those outputs: ``resid_pre`` /
   ``resid_post`` / ``pattern`` per layer and stack, ``cross_pattern`` (decoder) against
   ``cross_attentions``, ``final`` per stack, ``logits`` / ``class_logits``;
4. with an LM head: labels (some -100) give transformers' loss; greedy and beam search
   (``length_penalty``, ``no_repeat_ngram_size``, ``early_stopping``) give transformers' tokens
   with the cache on and off;
5. saves ours, loads it in transformers (no missing / unexpected keys, same outputs) and
   back into ours unchanged.
"""
from __future__ import annotations

import os
import warnings

import torch

import parity

TARGET = 5  # decoder positions fed in the forward checks (!= parity.SEQ)


def target_vocab(config) -> int:
    """The decoder's vocabulary (Marian may have its own, ``decoder_vocab_size``)."""
    return getattr(config, "decoder_vocab_size", None) or config.vocab_size


def seq2seq_inputs(config, task: str) -> tuple[dict, torch.Tensor]:
    """The source batch of parity.make_inputs and a decoder input; returns (inputs, real source positions)."""
    inputs = parity.make_inputs(config, token_types=0)
    real = inputs["attention_mask"].bool()  # (b, s)
    eos = config.eos_token_id
    if task == "sequence-classification":  # one </s> per row, at its last real token
        ids = inputs["input_ids"].masked_fill(inputs["input_ids"] == eos, 3 if eos != 3 else 4)
        last = real.long().cumsum(1).argmax(1)  # (b,) index of the last real token
        ids[torch.arange(ids.shape[0]), last] = eos
        inputs["input_ids"] = ids
        return inputs, real
    generator = torch.Generator().manual_seed(3)
    decoder = torch.randint(3, target_vocab(config), (parity.BATCH, TARGET), generator=generator)
    decoder[:, 0] = config.decoder_start_token_id
    inputs["decoder_input_ids"] = decoder
    return inputs, real


def check_aliases(ours, inputs, expected, real, task, atol=parity.ATOL) -> list[str]:
    with torch.no_grad():
        _, cache = ours.run_with_cache(**inputs, output_hidden_states=True, output_attentions=True)
    stacks = {"encoder": (expected.encoder_hidden_states, expected.encoder_attentions, real),
              "decoder": (expected.decoder_hidden_states, expected.decoder_attentions, None)}
    for stack, (hidden, attentions, mask) in stacks.items():
        pick = (lambda t: t[mask]) if mask is not None else (lambda t: t)
        rows = (lambda t: t * mask[:, None, :, None]) if mask is not None else (lambda t: t)
        layers = len(hidden) - 1
        assert ours.num_hook_layers(stack) == layers
        for layer in range(layers):
            parity.assert_close(pick(cache["resid_pre", layer, stack]), pick(hidden[layer]),
                                f"{stack} resid_pre {layer}", atol)
            parity.assert_close(pick(cache["resid_post", layer, stack]), pick(hidden[layer + 1]),
                                f"{stack} resid_post {layer}", atol)
            parity.assert_close(rows(cache["pattern", layer, stack]), rows(attentions[layer]),
                                f"{stack} pattern {layer}", atol)
        parity.assert_close(pick(cache["final", None, stack]), pick(hidden[-1]), f"{stack} final", atol)
    for layer in range(len(expected.cross_attentions)):
        parity.assert_close(cache["cross_pattern", layer, "decoder"], expected.cross_attentions[layer],
                            f"cross_pattern {layer}", atol)
    checked = ["resid_pre", "resid_post", "pattern", "final", "cross_pattern"]
    alias = "logits" if task == "seq2seq-lm" else "class_logits" if task == "sequence-classification" else None
    if alias:
        parity.assert_close(cache[alias], expected.logits, f"alias {alias}", atol)
        checked.append(alias)
    return checked


def check_generation(ours, reference, config, inputs, max_new_tokens: int = 7) -> None:
    """Greedy and beam search on the padded source, cache on and off: transformers' tokens."""
    source = dict(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
    settings = [dict(do_sample=False),
                dict(do_sample=False, num_beams=3, length_penalty=0.6, no_repeat_ngram_size=2, early_stopping=True),
                dict(do_sample=False, num_beams=2, num_return_sequences=2, length_penalty=1.5)]
    for kwargs in settings:
        with torch.no_grad():
            expected = reference.generate(**source, max_new_tokens=max_new_tokens, **kwargs)
            for use_cache in (True, False):
                actual = ours.generate(**source, max_new_tokens=max_new_tokens, use_cache=use_cache, **kwargs)
                assert torch.equal(actual, expected), f"{kwargs} use_cache={use_cache}:\n{actual}\n{expected}"


def check_seq2seq_parity(reference_class, our_class, config_kwargs, tmp_path, *, perturb: float = 0.2,
                         atol: float = parity.ATOL, seed: int = 0) -> dict:
    """Everything in this module's docstring; returns the max differences seen (for reports)."""
    parity.quiet_transformers()
    name = reference_class.__name__
    task = "seq2seq-lm" if name.endswith(("ForConditionalGeneration", "MTModel")) else \
        "sequence-classification" if name.endswith("ForSequenceClassification") else "base"
    folder, _ = parity.save_reference(reference_class, config_kwargs, os.path.join(tmp_path, "reference"),
                                      seed=seed, perturb=perturb)
    reference = reference_class.from_pretrained(folder, attn_implementation="eager").eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = our_class.from_pretrained(folder).eval()
    config = ours.config
    inputs, real = seq2seq_inputs(config, task)
    with torch.no_grad():
        expected = reference(**inputs, output_hidden_states=True, output_attentions=True)
        actual = ours(**inputs, output_hidden_states=True, output_attentions=True)
    parity.assert_outputs_match(actual, expected, real, atol)
    differences = {"logits": (actual.logits if task != "base" else actual.last_hidden_state)
                   .sub(expected.logits if task != "base" else expected.last_hidden_state).abs().max().item()}

    reference_fast = reference_class.from_pretrained(folder).eval()
    with torch.no_grad():
        plain, plain_expected = ours(**inputs), reference_fast(**inputs)
    parity.assert_outputs_match(plain, plain_expected, real, atol, what="fast path: ")
    aliases = check_aliases(ours, inputs, expected, real, task, atol)

    if task != "base":
        generator = torch.Generator().manual_seed(4)
        if task == "seq2seq-lm":
            labels = torch.randint(3, target_vocab(config), (parity.BATCH, TARGET), generator=generator)
            labels[0, -2:] = -100
            labelled = {k: v for k, v in inputs.items() if k != "decoder_input_ids"}
        else:
            labels = torch.randint(0, config.num_labels, (parity.BATCH,), generator=generator)
            labelled = inputs
        with torch.no_grad():
            loss, loss_expected = ours(**labelled, labels=labels).loss, reference(**labelled, labels=labels).loss
        parity.assert_close(loss, loss_expected, "loss", atol)
        differences["loss"] = (loss - loss_expected).abs().item()
    if task == "seq2seq-lm":
        check_generation(ours, reference, config, inputs)

    saved = os.path.join(tmp_path, "ours")
    ours.save_pretrained(saved)
    assert parity.checkpoint_keys(saved) == parity.checkpoint_keys(folder), "we must write the keys transformers writes"
    reloaded, info = reference_class.from_pretrained(saved, attn_implementation="eager", output_loading_info=True)
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    with torch.no_grad():
        parity.assert_outputs_match(ours(**inputs, output_hidden_states=True),
                                    reloaded.eval()(**inputs, output_hidden_states=True), real, atol, what="saved: ")
    again = our_class.from_pretrained(saved)
    for (key, a), (_, b) in zip(ours.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), f"{key} changed in a save/load round trip"
    return dict(task=task, aliases=aliases, differences=differences)
