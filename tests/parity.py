"""One parity harness for every family: hfexplain against transformers on the same weights.

``check_parity(reference_class, our_class, config_kwargs, folder)`` does what each family's
parity test used to write by hand:

1. builds ``reference_class`` (a transformers class) from ``config_kwargs``, moves every
   weight off its initial value (LayerNorm 1/0 and zero biases would hide a missing bias or
   a wrong norm) and writes it with transformers' ``save_pretrained``;
2. loads it with ``our_class.from_pretrained`` (strictly: no missing or unexpected key) and
   runs both on a padded batch (one full row, one right-padded, one left-padded), with the
   task's labels;
3. compares every output field (logits, start/end logits, pooler output, loss), every hidden
   state and every attention pattern at the real tokens, and the fast path (nobody watches
   attention: SDPA) against the same reference;
4. compares the shared hook aliases with the reference's outputs where it has them:
   ``embed`` with its input embedding, ``resid_pre`` / ``resid_post`` / ``final`` with
   ``hidden_states``, ``pattern`` with ``attentions``, ``logits`` / ``class_logits`` with
   the task's outputs;
5. for classes that generate: greedy tokens with the KV cache on and off, equal to
   transformers' ``generate``;
6. saves ours and loads it in transformers: the same keys as transformers writes, nothing
   missing or unexpected, the same outputs; and back into hfexplain unchanged.

A new family's parity test is then its configs::

    CONFIGS = {"tiny": dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)}
    PAIRS = [(transformers.LlamaForCausalLM, LlamaForCausalLM), ...]

    @pytest.mark.parametrize("reference_class, our_class, config", parity.cases(PAIRS, CONFIGS))
    def test_parity(reference_class, our_class, config, tmp_path):
        parity.check_parity(reference_class, our_class, config, tmp_path)
"""
from __future__ import annotations

import dataclasses
import json
import os
import warnings
from typing import Any

import pytest
import torch
from safetensors import safe_open

ATOL = 1e-5
BATCH = 3
SEQ = 9


def quiet_transformers():
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    return transformers


def cases(pairs, configs: dict[str, dict]) -> list:
    """pytest parameters (reference class, our class, config kwargs), one per pair x config."""
    return [
        pytest.param(reference_class, our_class, kwargs, id=f"{our_class.__name__}-{name}")
        for reference_class, our_class in pairs
        for name, kwargs in configs.items()
    ]


def task_of(reference_class: type) -> str:
    name = reference_class.__name__
    for suffix, task in (("ForCausalLM", "causal-lm"), ("LMHeadModel", "causal-lm"), ("ForMaskedLM", "masked-lm"),
                         ("ForSequenceClassification", "sequence-classification"),
                         ("ForTokenClassification", "token-classification"),
                         ("ForQuestionAnswering", "question-answering")):
        if name.endswith(suffix):
            return task
    return "base"


# -- the reference checkpoint -------------------------------------------------------------


def save_reference(reference_class: type, config_kwargs: dict, folder, *, seed: int = 0, perturb: float = 0.2):
    """Build, perturb and save a random transformers model; return (folder, config)."""
    config_class = reference_class.config_class
    config = config_class(**config_kwargs)
    torch.manual_seed(seed)
    model = reference_class(config).eval()
    if perturb:
        with torch.no_grad():
            for param in model.parameters():  # tied parameters appear once and move together
                param.add_(torch.randn_like(param) * perturb)
    folder = os.fspath(folder)
    model.save_pretrained(folder)
    return folder, model.config


def checkpoint_keys(folder) -> set[str]:
    with safe_open(os.path.join(folder, "model.safetensors"), "pt") as f:
        return set(f.keys())


# -- inputs -------------------------------------------------------------------------------


def make_inputs(config, *, token_types: int | None = None, seed: int = 1) -> dict[str, torch.Tensor]:
    """A padded batch: row 0 full, row 1 right-padded by 3, row 2 left-padded by 2.

    Real tokens avoid ids 0 and 1 and the pad id, so a decoder's last-non-pad pooling finds
    them. ``token_types``: also draw ``token_type_ids`` in [0, token_types) (default: the
    config's ``type_vocab_size`` where it has one).
    """
    generator = torch.Generator().manual_seed(seed)
    pad = config.pad_token_id if config.pad_token_id is not None else 0
    input_ids = torch.randint(2, config.vocab_size, (BATCH, SEQ), generator=generator)
    input_ids[input_ids == pad] = 2 if pad != 2 else 3
    attention_mask = torch.ones(BATCH, SEQ, dtype=torch.long)
    attention_mask[1, -3:] = 0
    attention_mask[2, :2] = 0
    inputs = dict(input_ids=input_ids.masked_fill(attention_mask == 0, pad), attention_mask=attention_mask)
    token_types = token_types if token_types is not None else getattr(config, "type_vocab_size", None)
    if token_types:
        inputs["token_type_ids"] = torch.randint(0, token_types, (BATCH, SEQ), generator=generator)
    return inputs


def make_labels(task: str, config, inputs: dict) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    pads = inputs["attention_mask"] == 0
    if task in ("causal-lm", "masked-lm"):
        labels = inputs["input_ids"].masked_fill(pads, -100)
        if task == "masked-lm":
            labels[:, 0::3] = -100  # only some positions are "masked"
        else:  # a pad position's logits (garbage, different in each library) must not predict a real token
            labels[:, 1:] = labels[:, 1:].masked_fill(pads[:, :-1], -100)
        return dict(labels=labels)
    if task == "sequence-classification":
        return dict(labels=torch.randint(0, config.num_labels, (BATCH,), generator=generator))
    if task == "token-classification":
        return dict(labels=torch.randint(0, config.num_labels, (BATCH, SEQ), generator=generator).masked_fill(pads, -100))
    if task == "question-answering":  # the last answer lies past the end (truncated): its loss is ignored
        return dict(start_positions=torch.tensor([1, 2, 30]), end_positions=torch.tensor([3, 2, 40]))
    return {}


# -- comparing ----------------------------------------------------------------------------


def record(what: str, difference: float) -> float:
    """Append one measured difference to ``$HFEXPLAIN_PARITY_LOG`` (JSON lines) when it is set.

    ``benchmarks/parity_report.py`` runs the parity tests with it set and tabulates the largest
    difference each test measured; without it this does nothing but return ``difference``.
    """
    log = os.environ.get("HFEXPLAIN_PARITY_LOG")
    if log:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" (", 1)[0]
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"test": test, "what": what, "difference": float(difference)}) + "\n")
    return difference


def assert_close(actual: torch.Tensor, expected: torch.Tensor, what: str, atol: float = ATOL) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} vs {tuple(expected.shape)}"
    difference = (actual.float() - expected.float()).abs().max().item() if actual.numel() else 0.0
    record(what, difference)
    assert difference <= atol, f"{what}: max abs difference {difference:.3g} > {atol}"


def _at_real_tokens(tensor: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Pad positions hold different garbage in each library: keep the real ones.

    (b, s, ...) tensors are indexed at real tokens; attention patterns (b, h, q, k) have
    their padded query rows zeroed; pooled (b, c) tensors are kept whole.
    """
    batch, seq = real.shape
    if tensor.dim() == 4 and tensor.shape[0] == batch and tensor.shape[2] == seq:
        return tensor * real[:, None, :, None]  # (b, h, q, k)
    if tensor.dim() >= 2 and tuple(tensor.shape[:2]) == (batch, seq):
        return tensor[real]  # (n_real, ...)
    return tensor


def assert_outputs_match(ours, theirs, real: torch.Tensor, atol: float = ATOL, what: str = "") -> None:
    """Every tensor field of our output against transformers' field of the same name."""
    compared = 0
    for field in dataclasses.fields(ours):
        if field.name == "past_key_values":
            continue
        mine, ref = getattr(ours, field.name), getattr(theirs, field.name, None)
        if mine is None:
            assert ref is None or ref == (), f"{what}{field.name}: transformers returns it, we do not"
            continue
        assert ref is not None, f"{what}{field.name}: we return it, transformers does not"
        if isinstance(mine, tuple):
            assert len(mine) == len(ref), f"{what}{field.name}: {len(mine)} entries vs {len(ref)}"
            for index, (a, b) in enumerate(zip(mine, ref)):
                assert_close(_at_real_tokens(a, real), _at_real_tokens(b, real), f"{what}{field.name}[{index}]", atol)
        else:
            assert_close(_at_real_tokens(mine, real), _at_real_tokens(ref, real), f"{what}{field.name}", atol)
        compared += 1
    assert compared, f"{what}no output field was compared"


def assert_aliases_match(ours, reference, inputs: dict, labels: dict, expected, real: torch.Tensor, task: str,
                         atol: float = ATOL) -> list[str]:
    """Our hook aliases against the reference's outputs where it has them; returns what was checked."""
    with torch.no_grad():
        output, cache = ours.run_with_cache(**inputs, **labels, output_hidden_states=True, output_attentions=True)
    checked = []
    layers = len(expected.hidden_states) - 1

    def has(alias: str) -> bool:
        try:
            ours.hook_name(alias, 0 if alias in ("resid_pre", "resid_post", "pattern") else None)
            return True
        except KeyError:
            return False

    if has("embed"):
        embedded = reference.get_input_embeddings()(inputs["input_ids"])  # (b, s, d)
        assert_close(cache["embed"][real], embedded[real], "alias embed", atol)
        checked.append("embed")
    for layer in range(layers):
        assert_close(cache["resid_pre", layer][real], expected.hidden_states[layer][real], f"resid_pre {layer}", atol)
        if layer + 1 < layers:  # the last hidden state is after the final norm in pre-norm families
            assert_close(cache["resid_post", layer][real], expected.hidden_states[layer + 1][real],
                         f"resid_post {layer}", atol)
        assert_close(_at_real_tokens(cache["pattern", layer], real),
                     _at_real_tokens(expected.attentions[layer], real), f"pattern {layer}", atol)
    checked += ["resid_pre", "resid_post", "pattern"]
    assert_close(cache["final"][real], expected.hidden_states[-1][real], "alias final", atol)
    checked.append("final")

    if task in ("causal-lm", "masked-lm"):
        assert_close(cache["logits"][real], expected.logits[real], "alias logits", atol)
        checked.append("logits")
    elif task == "token-classification":
        assert_close(cache["class_logits"][real], expected.logits[real], "alias class_logits", atol)
        checked.append("class_logits")
    elif task == "question-answering":
        start_end = torch.stack([expected.start_logits, expected.end_logits], dim=-1)  # (b, s, 2)
        assert_close(cache["class_logits"][real], start_end[real], "alias class_logits", atol)
        checked.append("class_logits")
    elif task == "sequence-classification":
        scores = cache["class_logits"]  # (b, s, c) before last-token pooling, or (b, c) pooled
        if scores.dim() == 3:
            from hfexplain.heads import last_non_pad_token

            last = last_non_pad_token(inputs["input_ids"], ours.config.pad_token_id, BATCH, SEQ, scores.device)
            scores = scores[torch.arange(BATCH), last]  # (b, c)
        assert_close(scores, expected.logits, "alias class_logits", atol)
        checked.append("class_logits")
    if task != "base":
        for alias in ("logits", "class_logits"):  # a head has one of the two, never both
            if alias not in checked:
                assert not has(alias), f"{type(ours).__name__} has a {alias!r} hook; its task uses the other alias"
    assert_outputs_match(output, expected, real, atol, what="run_with_cache: ")
    return checked


def assert_greedy_generation_matches(ours, reference, config, max_new_tokens: int = 6) -> None:
    """Left-padded prompts, KV cache on and off: the same tokens as transformers."""
    inputs = make_inputs(config, token_types=0)
    mask = torch.ones_like(inputs["attention_mask"])
    mask[0, :3] = 0  # left padding only: generation appends on the right
    pad = config.pad_token_id if config.pad_token_id is not None else 0
    prompt = inputs["input_ids"].masked_fill(mask == 0, pad)
    settings = dict(max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad, eos_token_id=None)
    expected = reference.generate(prompt, attention_mask=mask, **settings)
    for use_cache in (True, False):
        actual = ours.generate(prompt, attention_mask=mask, use_cache=use_cache, **settings)
        assert torch.equal(actual, expected), f"greedy tokens differ with use_cache={use_cache}:\n{actual}\n{expected}"


# -- the whole check ----------------------------------------------------------------------


@dataclasses.dataclass
class ParityReport:
    task: str
    aliases: list[str]
    generated: bool
    folder: str


def check_parity(reference_class: type, our_class: type, config_kwargs: dict[str, Any], tmp_path, *,
                 token_types: int | None = None, perturb: float = 0.2, atol: float = ATOL,
                 generate: bool | None = None, seed: int = 0) -> ParityReport:
    """Everything in this module's docstring, for one class pair and one config."""
    quiet_transformers()
    task = task_of(reference_class)
    folder, _ = save_reference(reference_class, config_kwargs, os.path.join(tmp_path, "reference"),
                               seed=seed, perturb=perturb)
    reference = reference_class.from_pretrained(folder, attn_implementation="eager").eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every weight is the checkpoint's: no "newly initialised", no "unused"
        ours = our_class.from_pretrained(folder)
    assert type(ours).__name__ == type(reference).__name__
    config = ours.config

    inputs = make_inputs(config, token_types=token_types)
    labels = make_labels(task, config, inputs)
    real = inputs["attention_mask"].bool()  # (b, s)
    with torch.no_grad():
        expected = reference(**inputs, **labels, output_hidden_states=True, output_attentions=True)
        actual = ours(**inputs, **labels, output_hidden_states=True, output_attentions=True)
    assert len(actual.hidden_states) == config.num_hidden_layers + 1
    assert len(actual.attentions) == config.num_hidden_layers
    if labels:
        assert actual.loss is not None and torch.isfinite(actual.loss), "labels were given but no loss came back"
    assert_outputs_match(actual, expected, real, atol)

    # The fast path (no one watches attention: SDPA) against transformers' default path.
    reference_fast = reference_class.from_pretrained(folder).eval()
    with torch.no_grad():
        plain, plain_expected = ours(**inputs, **labels), reference_fast(**inputs, **labels)
    assert plain.attentions is None and plain.hidden_states is None
    assert_outputs_match(plain, plain_expected, real, atol, what="fast path: ")

    aliases = assert_aliases_match(ours, reference, inputs, labels, expected, real, task, atol)

    generates = task == "causal-lm" if generate is None else generate
    if generates:
        assert_greedy_generation_matches(ours, reference, config)

    saved = os.path.join(tmp_path, "ours")
    ours.save_pretrained(saved)
    assert checkpoint_keys(saved) == checkpoint_keys(folder), "we must write the keys transformers writes"
    reloaded, info = reference_class.from_pretrained(saved, attn_implementation="eager", output_loading_info=True)
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    with torch.no_grad():
        assert_outputs_match(ours(**inputs, output_hidden_states=True),
                             reloaded.eval()(**inputs, output_hidden_states=True), real, atol, what="saved: ")
    again = our_class.from_pretrained(saved)
    for (name, a), (_, b) in zip(ours.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), f"{name} changed in a save/load round trip"
    return ParityReport(task=task, aliases=aliases, generated=generates, folder=folder)
