"""Parity for models that read ``pixel_values``: hfexplain against transformers on the same weights.

``check_vision_parity(reference_class, our_class, config_kwargs, tmp_path)`` is ``parity.check_parity``
for images (it reuses that module's checkpoint, comparison and key helpers):

1. builds ``reference_class`` from ``config_kwargs``, moves every weight off its initial value
   and saves it with transformers; loads it with ``our_class.from_pretrained`` (no missing,
   unexpected or newly initialised weight);
2. runs both on a seeded batch of images with hidden states and attentions (transformers
   with ``attn_implementation="eager"``) and compares every output field, hidden state and
   attention pattern; then the fast path (nobody watches attention: SDPA) against
   transformers' default (SDPA) path; classifiers also get labels and compare the loss;
3. the hook aliases against transformers' outputs: ``resid_pre`` / ``resid_post`` with
   ``hidden_states``, ``pattern`` with ``attentions``, ``final`` with ``last_hidden_state``,
   ``class_logits`` with ``logits``;
4. ``interpolate_pos_encoding=True`` on images of another size (not square), both libraries;
5. saves ours and loads it in transformers (the keys transformers writes, nothing missing or
   unexpected, the same outputs), and back into hfexplain unchanged.

It returns the largest absolute differences seen, by what was compared.
"""
from __future__ import annotations

import dataclasses
import inspect
import os
import warnings
from typing import Any

import torch

import parity

BATCH = 3


def make_pixel_values(config, height: int | None = None, width: int | None = None, seed: int = 1) -> torch.Tensor:
    """A seeded (b, c, h, w) batch, about as spread as normalised pixels (the config's size by default)."""
    size = config.image_size if isinstance(config.image_size, int) else config.image_size[0]
    height, width = height or size, width or size
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(BATCH, config.num_channels, height, width, generator=generator)


def largest_difference(ours, theirs) -> float:
    """The largest absolute difference over every tensor field both outputs have set."""
    largest = 0.0
    for field in dataclasses.fields(ours):
        mine, ref = getattr(ours, field.name), getattr(theirs, field.name, None)
        if mine is None or ref is None:
            continue
        pairs = zip(mine, ref) if isinstance(mine, tuple) else [(mine, ref)]
        largest = max([largest] + [(a.float() - b.float()).abs().max().item() for a, b in pairs])
    return largest


def _all_positions(output) -> torch.Tensor:
    """An all-true (b, s) mask: an image has no padding, every position is compared."""
    return torch.ones(output.hidden_states[0].shape[:2], dtype=torch.bool)


def check_vision_parity(reference_class: type, our_class: type, config_kwargs: dict[str, Any], tmp_path, *,
                        other_size: tuple[int, int] = (48, 40), atol: float = parity.ATOL, seed: int = 0,
                        record: dict[str, float] | None = None) -> dict[str, float]:
    """Everything in this module's docstring; returns {what: max abs difference}, also kept as the
    running maximum in ``record`` when one is given (a test file's report of its cases)."""
    parity.quiet_transformers()
    folder, _ = parity.save_reference(reference_class, config_kwargs, os.path.join(tmp_path, "reference"), seed=seed)
    reference = reference_class.from_pretrained(folder, attn_implementation="eager").eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every weight is the checkpoint's: no "newly initialised", no "unused"
        ours = our_class.from_pretrained(folder)
    assert type(ours).__name__ == type(reference).__name__
    config = ours.config
    pixel_values = make_pixel_values(config)
    takes_labels = "labels" in inspect.signature(our_class.forward).parameters
    labels = dict(labels=torch.tensor([0, 2, 1]) % config.num_labels) if takes_labels else {}
    diffs: dict[str, float] = {}

    with torch.no_grad():
        expected = reference(pixel_values, **labels, output_hidden_states=True, output_attentions=True)
        actual = ours(pixel_values, **labels, output_hidden_states=True, output_attentions=True)
    real = _all_positions(expected)
    assert len(actual.hidden_states) == config.num_hidden_layers + 1
    assert len(actual.attentions) == config.num_hidden_layers
    if labels:
        assert actual.loss is not None and torch.isfinite(actual.loss), "labels were given but no loss came back"
    parity.assert_outputs_match(actual, expected, real, atol)
    for field in ("hidden_states", "attentions"):
        diffs[field] = max((a - b).abs().max().item() for a, b in zip(getattr(actual, field), getattr(expected, field)))
    diffs["outputs"] = largest_difference(actual, expected)

    # The fast path (no one watches attention: SDPA) against transformers' default path.
    reference_fast = reference_class.from_pretrained(folder).eval()
    with torch.no_grad():
        plain, plain_expected = ours(pixel_values, **labels), reference_fast(pixel_values, **labels)
    assert plain.attentions is None and plain.hidden_states is None
    parity.assert_outputs_match(plain, plain_expected, real, atol, what="fast path: ")
    diffs["fast path"] = largest_difference(plain, plain_expected)

    # The hook aliases against transformers' outputs.
    with torch.no_grad():
        cached, cache = ours.run_with_cache(pixel_values, **labels, output_hidden_states=True, output_attentions=True)
    for layer in range(config.num_hidden_layers):
        parity.assert_close(cache["resid_pre", layer], expected.hidden_states[layer], f"resid_pre {layer}", atol)
        parity.assert_close(cache["resid_post", layer], expected.hidden_states[layer + 1], f"resid_post {layer}", atol)
        parity.assert_close(cache["pattern", layer], expected.attentions[layer], f"pattern {layer}", atol)
        diffs["pattern alias"] = max(diffs.get("pattern alias", 0.0),
                                     (cache["pattern", layer] - expected.attentions[layer]).abs().max().item())
    last_hidden = getattr(expected, "last_hidden_state", None)
    if last_hidden is not None:
        parity.assert_close(cache["final"], last_hidden, "alias final", atol)
    if hasattr(expected, "logits"):
        parity.assert_close(cache["class_logits"], expected.logits, "alias class_logits", atol)
    parity.assert_outputs_match(cached, expected, real, atol, what="run_with_cache: ")

    # Another image size: the position embeddings are interpolated, in both libraries the same way.
    other = make_pixel_values(config, *other_size, seed=2)
    with torch.no_grad():
        resized = ours(other, interpolate_pos_encoding=True, output_hidden_states=True)
        resized_expected = reference(other, interpolate_pos_encoding=True, output_hidden_states=True)
    parity.assert_outputs_match(resized, resized_expected, _all_positions(resized_expected), atol,
                                what="interpolate_pos_encoding: ")
    diffs["interpolate_pos_encoding"] = largest_difference(resized, resized_expected)

    check_saved_loads_in_transformers(ours, reference_class, folder, os.path.join(tmp_path, "ours"), pixel_values, atol)
    assert max(diffs.values()) <= atol, diffs
    if record is not None:
        for what, value in diffs.items():
            record[what] = max(record.get(what, 0.0), value)
    return diffs


def check_saved_loads_in_transformers(ours, reference_class: type, folder, saved, pixel_values: torch.Tensor,
                                      atol: float = parity.ATOL) -> None:
    """Ours, saved, loads in transformers strictly (the keys transformers wrote in ``folder``, nothing
    missing or unexpected, the same outputs), and back into hfexplain unchanged."""
    ours.save_pretrained(saved)
    assert parity.checkpoint_keys(saved) == parity.checkpoint_keys(folder), "we must write the keys transformers writes"
    reloaded, info = reference_class.from_pretrained(saved, attn_implementation="eager", output_loading_info=True)
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    with torch.no_grad():
        expected = reloaded.eval()(pixel_values, output_hidden_states=True)
        parity.assert_outputs_match(ours(pixel_values, output_hidden_states=True), expected, _all_positions(expected),
                                    atol, what="saved: ")
    again = type(ours).from_pretrained(saved)
    for (name, a), (_, b) in zip(ours.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), f"{name} changed in a save/load round trip"
