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
  :class:`TemperatureLogitsWarper`, :class:`TopKLogitsWarper`, :class:`TopPLogitsWarper`,
  :class:`MinPLogitsWarper`, :class:`TypicalLogitsWarper`, :class:`EpsilonLogitsWarper`,
  :class:`EtaLogitsWarper`, :class:`TopHLogitsWarper`; biases and constraints
  (:class:`SequenceBiasLogitsProcessor`, :class:`NoBadWordsLogitsProcessor`,
  :class:`PrefixConstrainedLogitsProcessor`, :class:`ExponentialDecayLengthPenalty`, the
  encoder penalties) and classifier-free guidance
  (:class:`UnbatchedClassifierFreeGuidanceLogitsProcessor`).
  :func:`build_logits_processors` puts them in the order transformers does, so sampling
  with the same seed draws the same tokens.
* ``stopping_criteria``: when a row is done: :class:`MaxLengthCriteria`,
  :class:`MaxTimeCriteria`, :class:`StopStringCriteria`, :class:`EosTokenCriteria`, or your
  own :class:`StoppingCriteria` in a :class:`StoppingCriteriaList`.
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

``generate(..., return_dict_in_generate=True, output_scores=True)`` returns a
:class:`GenerateDecoderOnlyOutput` (encoder-decoders: :class:`GenerateEncoderDecoderOutput`;
beam search: the ``GenerateBeam...`` classes, with ``sequences_scores`` and ``beam_indices``);
``model.compute_transition_scores`` reads each chosen token's score from it.

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
    EncoderNoRepeatNGramLogitsProcessor,
    EncoderRepetitionPenaltyLogitsProcessor,
    EpsilonLogitsWarper,
    EtaLogitsWarper,
    ExponentialDecayLengthPenalty,
    ForcedBOSTokenLogitsProcessor,
    ForcedEOSTokenLogitsProcessor,
    InfNanRemoveLogitsProcessor,
    LogitNormalization,
    LogitsProcessor,
    LogitsProcessorList,
    MinLengthLogitsProcessor,
    MinNewTokensLengthLogitsProcessor,
    MinPLogitsWarper,
    NoBadWordsLogitsProcessor,
    NoRepeatNGramLogitsProcessor,
    PrefixConstrainedLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    SequenceBiasLogitsProcessor,
    SuppressTokensAtBeginLogitsProcessor,
    SuppressTokensLogitsProcessor,
    TemperatureLogitsWarper,
    TopHLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
    UnbatchedClassifierFreeGuidanceLogitsProcessor,
    build_logits_processors,
)
from .stopping_criteria import (
    EosTokenCriteria,
    MaxLengthCriteria,
    MaxTimeCriteria,
    StoppingCriteria,
    StoppingCriteriaList,
    StopStringCriteria,
)
from .streamers import BaseStreamer, TextIteratorStreamer, TextStreamer
from .utils import (
    GenerateBeamDecoderOnlyOutput,
    GenerateBeamEncoderDecoderOutput,
    GenerateDecoderOnlyOutput,
    GenerateEncoderDecoderOutput,
    GenerationMixin,
)

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
    "MinPLogitsWarper",
    "TypicalLogitsWarper",
    "EpsilonLogitsWarper",
    "EtaLogitsWarper",
    "TopHLogitsWarper",
    "EncoderRepetitionPenaltyLogitsProcessor",
    "EncoderNoRepeatNGramLogitsProcessor",
    "SequenceBiasLogitsProcessor",
    "NoBadWordsLogitsProcessor",
    "PrefixConstrainedLogitsProcessor",
    "ExponentialDecayLengthPenalty",
    "InfNanRemoveLogitsProcessor",
    "LogitNormalization",
    "UnbatchedClassifierFreeGuidanceLogitsProcessor",
    "StoppingCriteria",
    "StoppingCriteriaList",
    "MaxLengthCriteria",
    "MaxTimeCriteria",
    "StopStringCriteria",
    "EosTokenCriteria",
    "GenerateDecoderOnlyOutput",
    "GenerateEncoderDecoderOutput",
    "GenerateBeamDecoderOnlyOutput",
    "GenerateBeamEncoderDecoderOutput",
    "build_logits_processors",
    "BaseStreamer",
    "TextStreamer",
    "TextIteratorStreamer",
    "explain_generation",
    "GENERATION_DEFAULTS",
]
