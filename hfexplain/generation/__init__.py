"""Text generation: from next-token logits to a continuation.

A causal language model only ever answers one question: *given these tokens, how likely
is each token of the vocabulary to come next?* ``generate`` turns that into text by
asking it again and again:

    prompt ─► model ─► logits of the next token ─► logits processors ─► pick a token ─┐
       ▲                                                                                │
       └──────────────────────── append the token, repeat ◄─────────────────────────────┘

The rooms of this package, each small enough to show on its own in a lesson:

* ``configuration_utils``: :class:`GenerationConfig` holds the knobs (``max_new_tokens``,
  ``do_sample``, ``temperature``, ``top_k``, ``top_p``, ``num_beams`` ...) with transformers'
  names, and reads/writes the same ``generation_config.json``.
* ``logits_process``: logits processors reshape the next-token scores, one idea per class:
  :class:`RepetitionPenaltyLogitsProcessor`, :class:`NoRepeatNGramLogitsProcessor`, the
  minimum-length ones, :class:`ForcedBOSTokenLogitsProcessor` /
  :class:`ForcedEOSTokenLogitsProcessor`, :class:`SuppressTokensLogitsProcessor` /
  :class:`SuppressTokensAtBeginLogitsProcessor`, and the sampling warpers
  :class:`TemperatureLogitsWarper`, :class:`TopKLogitsWarper`, :class:`TopPLogitsWarper`.
  :func:`build_logits_processors` puts them in the order transformers does, so sampling
  with the same seed draws the same tokens.
* ``utils``: :class:`GenerationMixin`, the loop. Picking: ``argmax`` (greedy),
  ``torch.multinomial`` (sampling), or beam search, which keeps the ``num_beams`` best
  partial sequences instead of one. The KV cache (:class:`hfexplain.layers.KVCache`) keeps
  every layer's keys and values, so after the prompt each step feeds only the newest
  token. The model says what one step feeds its forward
  (``prepare_inputs_for_generation``) and how many positions it learned
  (``generation_position_limit``). An encoder-decoder (``config.is_encoder_decoder``)
  encodes its source once and the loop extends the decoder's sequence from
  ``decoder_start_token_id``, with an :class:`hfexplain.layers.EncoderDecoderCache`.
* ``streamers``: :class:`TextStreamer` prints words as they are produced.
* ``explain``: :func:`explain_generation` (also ``model.generate_steps``) records every
  step: the top candidates before and after each processor, the chosen token, and the
  cache size.

Left-padded batches work as in transformers: position ids come from the attention mask
(``cumsum - 1``, so each row counts from its first real token) and the mask grows by one
column per step. A sequence that has produced an end-of-sequence token is padded with
``pad_token_id`` until the longest one is done.

Shapes: b=batch (times beams where beams are used), s=sequence so far, n=beams,
v=vocabulary, c=candidates kept per step in beam search.
"""
from .configuration_utils import (
    GENERATION_CONFIG_NAME,
    GENERATION_DEFAULTS,
    UNSUPPORTED_OPTIONS,
    GenerationConfig,
)
from .explain import GenerationStep, ProcessorStage, explain_generation
from .logits_process import (
    ForcedBOSTokenLogitsProcessor,
    ForcedEOSTokenLogitsProcessor,
    LogitsProcessor,
    LogitsProcessorList,
    MinLengthLogitsProcessor,
    MinNewTokensLengthLogitsProcessor,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    SuppressTokensAtBeginLogitsProcessor,
    SuppressTokensLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    build_logits_processors,
)
from .streamers import BaseStreamer, TextIteratorStreamer, TextStreamer
from .utils import GenerationMixin

__all__ = [
    "GenerationConfig",
    "GenerationMixin",
    "GenerationStep",
    "ProcessorStage",
    "LogitsProcessor",
    "LogitsProcessorList",
    "RepetitionPenaltyLogitsProcessor",
    "MinLengthLogitsProcessor",
    "MinNewTokensLengthLogitsProcessor",
    "NoRepeatNGramLogitsProcessor",
    "ForcedBOSTokenLogitsProcessor",
    "ForcedEOSTokenLogitsProcessor",
    "SuppressTokensLogitsProcessor",
    "SuppressTokensAtBeginLogitsProcessor",
    "TemperatureLogitsWarper",
    "TopKLogitsWarper",
    "TopPLogitsWarper",
    "build_logits_processors",
    "BaseStreamer",
    "TextStreamer",
    "TextIteratorStreamer",
    "explain_generation",
    "GENERATION_DEFAULTS",
]
