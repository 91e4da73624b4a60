"""The decoding loop: :class:`GenerationMixin` and its ``generate``.

Greedy decoding, sampling and beam search over a model's ``forward``, with a KV cache.
Preparation (checking arguments, resolving the config, building processors) happens once,
before any forward pass. The model has the last word on two things, through methods a
family may override:

* :meth:`GenerationMixin.prepare_inputs_for_generation`: the forward arguments of one step
  (which ids the cache has not seen, position ids from the padding mask where the forward
  takes them, the encoder's output for an encoder-decoder);
* :meth:`GenerationMixin.generation_position_limit`: how many positions the model learned
  (GPT-2's ``n_positions``), or ``None`` when positions are computed (rotary, relative).

Encoder-decoders (``config.is_encoder_decoder``: T5, BART, Whisper ...): ``input_ids`` is the
source. The encoder (``model.get_encoder()``) runs once; the decoder starts from
``decoder_start_token_id`` and the loop extends *its* sequence, feeding
``decoder_input_ids`` with an :class:`~hfexplain.layers.EncoderDecoderCache` (the
cross-attention keys and values are computed on the first step and then read back).
``generate`` returns the decoder's sequences, start token included, as transformers does.

A decoder-only model whose forward cross-attends to states it is given (BLIP's text decoder
reads an image's) takes them as ``generate(..., encoder_hidden_states=, encoder_attention_mask=)``:
every step's forward gets them, one copy per beam or sample, and its cache keeps their keys and values.

Shapes: b=batch (times beams where beams are used), s=sequence so far, n=beams,
v=vocabulary, c=candidates kept per step in beam search.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import inspect
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from ..configuration import HUB_KWARGS
from ..heads import check_input_ids
from ..layers import EncoderDecoderCache, KVCache
from ..outputs import ModelOutput
from .configuration_utils import (
    GENERATION_CONFIG_NAME,
    GENERATION_DEFAULTS,
    UNSUPPORTED_OPTIONS,
    GenerationConfig,
    _read_json_object,
)
from .logits_process import LogitsProcessorList, _as_id_list, _merge_custom, build_logits_processors
from .stopping_criteria import (
    EosTokenCriteria,
    MaxLengthCriteria,
    MaxTimeCriteria,
    StoppingCriteriaList,
    StopStringCriteria,
)
from .streamers import BaseStreamer

if TYPE_CHECKING:
    from .explain import GenerationStep, _StepRecorder


# =====================================================================================
# What generate returns with return_dict_in_generate=True (transformers' classes)
# =====================================================================================
# ``scores``: one (b, v) tensor per new token, the scores after every processor (in beam
# search: log-probabilities per beam); ``logits``: the model's raw next-token logits per
# step. ``attentions`` / ``hidden_states``: per step, the model's per-layer tuple.
# ``beam_indices`` (b, new): for each new token, the flat row (prompt * num_beams + beam)
# whose scores it was picked from, -1 past the sequence's end.


@dataclass
class GenerateDecoderOnlyOutput(ModelOutput):
    sequences: torch.Tensor | None = None  # (b, s)
    scores: tuple[torch.Tensor, ...] | None = None
    logits: tuple[torch.Tensor, ...] | None = None
    attentions: tuple | None = None
    hidden_states: tuple | None = None
    past_key_values: Any = None


@dataclass
class GenerateEncoderDecoderOutput(ModelOutput):
    sequences: torch.Tensor | None = None  # (b, t) the decoder's tokens
    scores: tuple[torch.Tensor, ...] | None = None
    logits: tuple[torch.Tensor, ...] | None = None
    encoder_attentions: tuple | None = None
    encoder_hidden_states: tuple | None = None
    decoder_attentions: tuple | None = None
    cross_attentions: tuple | None = None
    decoder_hidden_states: tuple | None = None
    past_key_values: Any = None


@dataclass
class GenerateBeamDecoderOnlyOutput(ModelOutput):
    sequences: torch.Tensor | None = None  # (b * num_return_sequences, s)
    sequences_scores: torch.Tensor | None = None  # (b * num_return_sequences,) length-normalised log-probs
    scores: tuple[torch.Tensor, ...] | None = None
    logits: tuple[torch.Tensor, ...] | None = None
    beam_indices: torch.Tensor | None = None  # (b * num_return_sequences, new)
    attentions: tuple | None = None
    hidden_states: tuple | None = None
    past_key_values: Any = None


@dataclass
class GenerateBeamEncoderDecoderOutput(ModelOutput):
    sequences: torch.Tensor | None = None
    sequences_scores: torch.Tensor | None = None
    scores: tuple[torch.Tensor, ...] | None = None
    logits: tuple[torch.Tensor, ...] | None = None
    beam_indices: torch.Tensor | None = None
    encoder_attentions: tuple | None = None
    encoder_hidden_states: tuple | None = None
    decoder_attentions: tuple | None = None
    cross_attentions: tuple | None = None
    decoder_hidden_states: tuple | None = None
    past_key_values: Any = None


class _StepRecords:
    """What ``return_dict_in_generate`` collects at each step, per the config's output flags."""

    def __init__(self, config: GenerationConfig, is_encoder_decoder: bool):
        wanted = bool(config.return_dict_in_generate)
        self.scores = () if wanted and config.output_scores else None
        self.logits = () if wanted and config.output_logits else None
        self.attentions = () if wanted and config.output_attentions else None
        self.cross_attentions = () if wanted and config.output_attentions and is_encoder_decoder else None
        self.hidden_states = () if wanted and config.output_hidden_states else None
        self.is_encoder_decoder = is_encoder_decoder

    def add(self, scores: torch.Tensor, logits: torch.Tensor, outputs) -> None:
        if self.scores is not None:
            self.scores += (scores,)
        if self.logits is not None:
            self.logits += (logits,)
        prefix = "decoder_" if self.is_encoder_decoder else ""
        if self.attentions is not None:
            self.attentions += (getattr(outputs, f"{prefix}attentions"),)
        if self.cross_attentions is not None:
            self.cross_attentions += (outputs.cross_attentions,)
        if self.hidden_states is not None:
            self.hidden_states += (getattr(outputs, f"{prefix}hidden_states"),)

    def output(self, prepared: _Prepared, cache, **fields):
        """The ``Generate*Output`` for this model kind and search."""
        beam = "sequences_scores" in fields
        if self.is_encoder_decoder:
            encoder = prepared.encoder_outputs
            output_class = GenerateBeamEncoderDecoderOutput if beam else GenerateEncoderDecoderOutput
            return output_class(
                **fields, scores=self.scores, logits=self.logits,
                encoder_attentions=getattr(encoder, "attentions", None) if self.attentions is not None else None,
                encoder_hidden_states=getattr(encoder, "hidden_states", None) if self.hidden_states is not None
                else None,
                decoder_attentions=self.attentions, cross_attentions=self.cross_attentions,
                decoder_hidden_states=self.hidden_states, past_key_values=cache,
            )
        output_class = GenerateBeamDecoderOnlyOutput if beam else GenerateDecoderOnlyOutput
        return output_class(**fields, scores=self.scores, logits=self.logits, attentions=self.attentions,
                            hidden_states=self.hidden_states, past_key_values=cache)


@dataclass
class _Prepared:
    """Everything a decoding loop needs, after the arguments were checked and resolved."""

    config: GenerationConfig
    input_ids: torch.Tensor  # (b, s) prompt (an encoder-decoder's: the decoder start), rows repeated for beams
    attention_mask: torch.Tensor | None  # (b, s) padding of input_ids; None when nothing is padded
    processors: LogitsProcessorList
    eos_token_ids: torch.Tensor | None  # (e,)
    pad_token_id: int | None
    prompt_length: int
    encoder_outputs: Any = None  # encoder-decoders: the encoder's output, rows repeated like input_ids
    encoder_attention_mask: torch.Tensor | None = None  # (b, source) padding of the source
    # A decoder-only model that cross-attends to states it is given (BLIP's text decoder reads an
    # image): encoder_hidden_states / encoder_attention_mask for every step, rows repeated like input_ids.
    conditioning: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)
    stopping_criteria: StoppingCriteriaList = dataclasses.field(default_factory=StoppingCriteriaList)


class GenerationMixin:
    """Adds ``generate`` (and ``generate_steps``) to models with a language-modelling head.

    Mixed in first by causal-LM classes (``class GPT2LMHeadModel(GenerationMixin,
    GPT2PreTrainedModel)``). It relies on the model's ``forward`` returning ``.logits``
    and taking what :meth:`prepare_inputs_for_generation` hands it: by default
    ``input_ids, past_key_values, attention_mask, use_cache`` and, where the forward
    has them, ``position_ids`` and ``logits_to_keep``; an encoder-decoder's forward
    takes ``decoder_input_ids, encoder_outputs, attention_mask`` (the source's) instead,
    and its ``get_encoder()`` returns the encoder.
    """

    def __init__(self, config, *args, **kwargs):
        super().__init__(config, *args, **kwargs)
        self.generation_config = GenerationConfig.from_model_config(config)

    @classmethod
    def can_generate(cls) -> bool:
        return True

    # -- loading and saving the generation config -------------------------------------

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, generation_config: GenerationConfig | None = None,
                        **kwargs):
        """Load the model (see ``PreTrainedModel.from_pretrained``), then its
        ``generation_config.json`` if the checkpoint has one; otherwise the generation
        settings come from ``config.json`` (``GenerationConfig.from_model_config``)."""
        loaded = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        model = loaded[0] if isinstance(loaded, tuple) else loaded
        if generation_config is not None:
            model.generation_config = copy.deepcopy(generation_config)
        else:
            from ..hub import cached_file

            hub_kwargs = {key: kwargs[key] for key in HUB_KWARGS if kwargs.get(key) is not None}
            path = cached_file(pretrained_model_name_or_path, GENERATION_CONFIG_NAME, required=False, **hub_kwargs)
            if path is not None:
                model.generation_config = GenerationConfig.from_dict(_read_json_object(path))
        return loaded

    def _save_extra_files(self, save_directory: str) -> None:
        super()._save_extra_files(save_directory)
        self.generation_config.save_pretrained(save_directory)

    # -- generate ------------------------------------------------------------------------

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        *,
        generation_config: GenerationConfig | None = None,
        streamer: BaseStreamer | None = None,
        logits_processor: list | None = None,
        stopping_criteria: list | None = None,
        prefix_allowed_tokens_fn=None,
        negative_prompt_ids: torch.Tensor | None = None,
        negative_prompt_attention_mask: torch.Tensor | None = None,
        tokenizer=None,
        **kwargs: Any,
    ):
        """Continue the prompt; returns token ids (b, prompt + new) as transformers does.

        Args:
            input_ids: (b, s) prompt ids; left-pad a batch (``padding_side="left"``).
                ``None`` starts from ``bos_token_id``. For an encoder-decoder: the source,
                and the result holds the decoder's tokens (from ``decoder_start_token_id``).
            attention_mask: (b, s) 1 for real tokens, 0 for padding. Without it, padding
                is inferred from ``pad_token_id`` when that differs from the EOS token.
            generation_config: a :class:`GenerationConfig` to start from instead of
                ``model.generation_config``.
            streamer: e.g. ``TextStreamer(tokenizer)``; receives the prompt, then each token.
            logits_processor: extra processors, applied after the built-in ones and
                before the sampling warpers (one of the same class as a built-in replaces it).
            stopping_criteria: extra :class:`StoppingCriteria`, asked after the built-in
                ones (max length, max time, stop strings, EOS).
            prefix_allowed_tokens_fn: ``fn(batch_id, input_ids) -> list of allowed ids`` for
                the next token of each row (:class:`PrefixConstrainedLogitsProcessor`).
            negative_prompt_ids, negative_prompt_attention_mask: the unconditional branch of
                classifier-free guidance (``guidance_scale``); by default the prompt's last token.
            tokenizer: the model's tokenizer, needed to read ``stop_strings``.
            **kwargs: any :class:`GenerationConfig` field, e.g. ``max_new_tokens=20,
                do_sample=True, top_p=0.9, num_beams=4, return_dict_in_generate=True,
                output_scores=True``. Encoder-decoders also take ``encoder_outputs=`` (the
                encoder's output, instead of ``input_ids``) and ``decoder_input_ids=`` (b, t):
                the decoder's first tokens instead of the start token (they count as the
                prompt, and are returned). A decoder-only model that cross-attends takes
                ``encoder_hidden_states=`` (b, n, d) and ``encoder_attention_mask=`` (b, n).

        Greedy decoding when ``do_sample=False`` and ``num_beams=1``; sampling when
        ``do_sample=True``; beam search when ``num_beams > 1``. With
        ``return_dict_in_generate=True`` the result is a ``GenerateDecoderOnlyOutput``
        (``GenerateEncoderDecoderOutput``; ``GenerateBeam...`` for beam search) holding
        ``sequences`` and what the ``output_*`` flags ask for.
        """
        _check_can_generate(self)
        prepared = self._prepare_generation(
            input_ids, attention_mask, generation_config, logits_processor, streamer, kwargs,
            stopping_criteria=stopping_criteria, prefix_allowed_tokens_fn=prefix_allowed_tokens_fn,
            negative_prompt_ids=negative_prompt_ids, negative_prompt_attention_mask=negative_prompt_attention_mask,
            tokenizer=tokenizer,
        )
        if prepared.config.num_beams > 1:
            return self._beam_search(prepared)
        return self._sample(prepared, streamer)

    def compute_transition_scores(
        self,
        sequences: torch.Tensor,
        scores: tuple[torch.Tensor, ...],
        beam_indices: torch.Tensor | None = None,
        normalize_logits: bool = False,
    ) -> torch.Tensor:
        """The score of each generated token at the step that picked it: (b, new).

        ``sequences``, ``scores`` (and, after beam search, ``beam_indices``) as
        ``generate(..., return_dict_in_generate=True, output_scores=True)`` returns them.
        ``normalize_logits=True`` log-softmaxes each step's scores first (so the result
        reads as log-probabilities even after greedy search, whose scores are logits).
        Positions past a beam's end are 0. As transformers' method of that name: summing a
        beam's row and dividing by ``length ** length_penalty`` gives ``sequences_scores``.
        """
        if not isinstance(scores, (tuple, list)) or not scores:
            raise ValueError(
                "scores must be the per-step tuple that generate returns with return_dict_in_generate=True and "
                "output_scores=True (outputs.scores)."
            )
        steps = len(scores)
        if beam_indices is None:  # greedy / sampling: row i always reads its own scores
            beam_indices = torch.arange(scores[0].shape[0], device=sequences.device)[:, None].expand(-1, steps)
        vocab = scores[0].shape[-1]
        per_step = torch.stack(scores, dim=1)  # (rows, steps, v) rows = the b (times beams) of each step
        if normalize_logits:
            per_step = F.log_softmax(per_step, dim=-1)
        # Beams that ended early carry -1 past their end: read row 0 there and zero it after.
        ended = beam_indices < 0  # (b, steps)
        length = int((~ended).sum(dim=-1).max())
        rows, ended = beam_indices[:, :length].clamp(min=0).long(), ended[:, :length]  # (b, new)
        tokens = sequences[:, sequences.shape[1] - length:]  # (b, new) the generated tokens
        step_index = torch.arange(length, device=sequences.device)[None, :].expand_as(rows)  # (b, new)
        picked = per_step.to(sequences.device)[rows, step_index, tokens]  # (b, new)
        return picked.masked_fill(ended, 0.0)

    def generate_steps(self, input_ids: torch.Tensor | None = None, **kwargs: Any) -> list[GenerationStep]:
        """Generate while recording every step; see :func:`explain_generation`."""
        from .explain import explain_generation

        return explain_generation(self, input_ids, **kwargs)

    # -- preparation ----------------------------------------------------------------------

    def _resolve_generation_config(self, generation_config: GenerationConfig | None, kwargs: dict) -> GenerationConfig:
        """Merge, highest priority first: the call's kwargs, ``generation_config``, the
        model's ``generation_config``, :data:`GENERATION_DEFAULTS`."""
        if generation_config is not None and not isinstance(generation_config, GenerationConfig):
            raise TypeError(
                f"generation_config must be a GenerationConfig, got {type(generation_config).__name__}; "
                "pass the options as keyword arguments instead, e.g. generate(ids, max_new_tokens=20)."
            )
        config = copy.deepcopy(generation_config) if generation_config is not None else GenerationConfig()
        own = getattr(self, "generation_config", None) or GenerationConfig.from_model_config(self.config)
        for source in (own.to_dict(), GENERATION_DEFAULTS):
            for key, value in source.items():
                if getattr(config, key, None) is None:
                    setattr(config, key, copy.deepcopy(value))

        unknown = [key for key in kwargs if not hasattr(config, key) and key not in UNSUPPORTED_OPTIONS]
        if unknown:
            options = [name for name in vars(config) if not name.startswith("_")]
            hints = [f"{key!r} (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(key, options, 1))
                     else repr(key) for key in unknown]
            raise ValueError(
                f"generate() got argument(s) it does not know: {', '.join(hints)}. Pass GenerationConfig fields "
                f"such as max_new_tokens, do_sample, temperature, top_k, top_p, num_beams, eos_token_id."
            )
        for key, value in kwargs.items():
            setattr(config, key, value)
        # A max_length from the call (not max_new_tokens) decides the length, as in transformers.
        if "max_length" in kwargs and "max_new_tokens" not in kwargs:
            config.max_new_tokens = None
        config.validate()

        switched_on = {key: getattr(config, key) for key, off in UNSUPPORTED_OPTIONS.items()
                       if getattr(config, key, off) not in (None, off)}
        if switched_on:
            raise NotImplementedError(
                f"hfexplain's generate does not implement {switched_on}; unset these options (also in "
                "model.generation_config), or use transformers for them."
            )
        return config

    def _prepare_generation(self, input_ids, attention_mask, generation_config, logits_processor, streamer,
                            kwargs, *, stopping_criteria=None, prefix_allowed_tokens_fn=None,
                            negative_prompt_ids=None, negative_prompt_attention_mask=None,
                            tokenizer=None) -> _Prepared:
        """Check everything and build the tensors the loops need, before any forward pass."""
        # Encoder-decoders may bring their encoder's output and the decoder's first tokens
        # (transformers' arguments of these names): Whisper encodes sound and forces a prompt.
        encoder_outputs = kwargs.pop("encoder_outputs", None)
        decoder_input_ids = kwargs.pop("decoder_input_ids", None)
        conditioning = {name: kwargs.pop(name) for name in CONDITIONING_INPUTS if kwargs.get(name) is not None}
        kwargs = {name: value for name, value in kwargs.items() if name not in CONDITIONING_INPUTS}
        config = self._resolve_generation_config(generation_config, kwargs)
        eos = _as_id_list(config.eos_token_id)
        pad = config.pad_token_id if config.pad_token_id is not None else (eos[0] if eos else None)
        self._check_special_ids(config, eos, pad)
        device = next(self.parameters()).device
        is_encoder_decoder = bool(getattr(self.config, "is_encoder_decoder", False))
        if config.stop_strings is not None and tokenizer is None:
            raise ValueError(
                f"stop_strings={config.stop_strings!r} needs the model's tokenizer to read the tokens as text: "
                "pass generate(..., stop_strings=..., tokenizer=tokenizer)."
            )
        if config.guidance_scale not in (None, 1) and is_encoder_decoder:
            raise ValueError(
                "guidance_scale (classifier-free guidance) runs an unconditional branch of a decoder-only model; "
                f"{type(self).__name__} is an encoder-decoder. Unset guidance_scale."
            )
        for name, value in (("logits_processor", logits_processor), ("stopping_criteria", stopping_criteria)):
            if value is not None and not (isinstance(value, (list, tuple)) and all(callable(v) for v in value)):
                raise TypeError(
                    f"{name} must be a list of callables (e.g. a {'LogitsProcessorList' if name[0] == 'l' else ''}"
                    f"{'StoppingCriteriaList' if name[0] == 's' else ''}([...])), got {type(value).__name__}."
                )

        if streamer is not None:
            if not (callable(getattr(streamer, "put", None)) and callable(getattr(streamer, "end", None))):
                raise TypeError(
                    f"streamer must have put() and end() methods (e.g. TextStreamer(tokenizer)), "
                    f"got {type(streamer).__name__}."
                )
            if config.num_beams > 1:
                raise ValueError(
                    "a streamer cannot be used with beam search: the best beam is known only at the end. "
                    "Use num_beams=1 to stream."
                )

        # 1. The prompt (for an encoder-decoder, the source).
        if not is_encoder_decoder and (encoder_outputs is not None or decoder_input_ids is not None):
            raise ValueError(
                f"{type(self).__name__} is decoder-only: encoder_outputs= and decoder_input_ids= are for "
                "encoder-decoders. Pass the prompt as input_ids."
            )
        if input_ids is None and is_encoder_decoder and encoder_outputs is None:
            raise ValueError(
                f"{type(self).__name__} is an encoder-decoder: generate() needs input_ids, the source to encode "
                "(e.g. input_ids=tokenizer(text, return_tensors='pt').input_ids)."
            )
        if encoder_outputs is not None:
            input_ids = _check_encoder_outputs(encoder_outputs, input_ids)  # (b, 1) placeholder rows
        if input_ids is None:
            if config.bos_token_id is None:
                raise ValueError(
                    "generate() needs input_ids (a tokenized prompt) or a bos_token_id to start from; pass "
                    "input_ids=tokenizer(text, return_tensors='pt').input_ids."
                )
            input_ids = torch.full((1, 1), config.bos_token_id, dtype=torch.long, device=device)
        vocab_size = getattr(self.config, "vocab_size", None)
        check_input_ids(input_ids, max_positions=None, vocab_size=vocab_size)
        input_ids = input_ids.to(device=device, dtype=torch.long)
        batch, prompt_length = input_ids.shape
        if prompt_length == 0:
            raise ValueError("input_ids is empty (0 tokens); give generate() at least one token to continue.")
        conditioning = self._check_conditioning(conditioning, batch, is_encoder_decoder, device)
        if encoder_outputs is not None:
            attention_mask = _check_source_mask(attention_mask, encoder_outputs, device)
        else:
            attention_mask = self._generation_attention_mask(input_ids, attention_mask, config, eos, device)
        source_ids = source_mask = None
        # What the encoder penalties compare against: the source, or a decoder-only model's prompt.
        encoder_input_ids = None if encoder_outputs is not None else input_ids  # (b, source)
        if is_encoder_decoder:
            # The loop extends the decoder's sequence: one start token per row, or the prompt given.
            source_ids, source_mask = input_ids, attention_mask
            if decoder_input_ids is not None:
                check_input_ids(decoder_input_ids, max_positions=None, vocab_size=vocab_size)
                if decoder_input_ids.shape[0] != batch:
                    raise ValueError(
                        f"decoder_input_ids has {decoder_input_ids.shape[0]} rows but the source has {batch}; "
                        "give one decoder prompt per source row."
                    )
                input_ids = decoder_input_ids.to(device=device, dtype=torch.long)  # (b, t)
            else:
                start = self._decoder_start_token_id(config)
                input_ids = torch.full((batch, 1), start, dtype=torch.long, device=device)  # (b, 1)
            attention_mask = None
            prompt_length = input_ids.shape[1]

        # 2. How long to generate.
        default_length = "max_length" not in kwargs and getattr(self.generation_config, "max_length", None) is None \
            and (generation_config is None or generation_config.max_length is None)
        n_positions = self.generation_position_limit()
        if config.max_new_tokens is not None:
            config.max_length = prompt_length + config.max_new_tokens
        elif default_length:
            warnings.warn(
                f"Using the default max_length ({config.max_length}) to limit the length; set max_new_tokens "
                "to say how many tokens to generate.",
                UserWarning,
                stacklevel=3,
            )
            config.max_length = config.max_length + prompt_length
            limit = getattr(self.config, "max_position_embeddings", None)
            if limit is not None:
                config.max_length = min(config.max_length, limit)
        if prompt_length >= config.max_length:
            raise ValueError(
                f"the prompt is {prompt_length} tokens long but max_length is {config.max_length}, which leaves "
                "no room for new tokens; set max_new_tokens (the number of tokens to add) instead."
            )
        if n_positions is not None and config.max_length > n_positions:
            raise ValueError(
                f"the prompt ({prompt_length} tokens) plus {config.max_length - prompt_length} new tokens needs "
                f"{config.max_length} positions, but {type(self).__name__} learned only {n_positions} "
                f"(its context window). Lower max_new_tokens to at most {n_positions - prompt_length}, or "
                f"shorten the prompt (tokenizer(..., truncation=True, max_length=...))."
            )

        # 3. A left-padded batch: new tokens must follow real tokens, not padding.
        if not is_encoder_decoder and batch > 1 and attention_mask is not None and \
                bool((attention_mask[:, -1] == 0).any()):
            warnings.warn(
                "the batch is right-padded: new tokens would follow the padding. Pad on the left for "
                "generation (tokenizer.padding_side = 'left').",
                UserWarning,
                stacklevel=3,
            )

        # 4. One row per hypothesis: beams, or several samples per prompt.
        copies = max(config.num_beams, config.num_return_sequences)
        if copies > 1:
            input_ids = input_ids.repeat_interleave(copies, dim=0)  # (b * copies, s)
            if attention_mask is not None:
                attention_mask = attention_mask.repeat_interleave(copies, dim=0)

        processors = build_logits_processors(
            config, prompt_length=prompt_length, attention_mask=attention_mask, extra=logits_processor,
            encoder_input_ids=encoder_input_ids, prefix_allowed_tokens_fn=prefix_allowed_tokens_fn, model=self,
            negative_prompt_ids=negative_prompt_ids, negative_prompt_attention_mask=negative_prompt_attention_mask,
        )
        eos_tensor = torch.tensor(eos, dtype=torch.long, device=device) if eos else None
        prepared = _Prepared(config, input_ids, attention_mask, processors, eos_tensor, pad, prompt_length)
        prepared.stopping_criteria = self._stopping_criteria(config, eos, tokenizer, stopping_criteria)
        prepared.conditioning = {name: value.repeat_interleave(copies, dim=0) if copies > 1 else value
                                 for name, value in conditioning.items()}  # (b * copies, ...)

        # 5. An encoder-decoder reads its source once, here; every beam/sample row gets a copy.
        if is_encoder_decoder:
            if encoder_outputs is None:
                encoder = self.get_encoder()
                extra_outputs = {name: True for name in ("output_attentions", "output_hidden_states")
                                 if config.return_dict_in_generate and getattr(config, name)
                                 and name in _forward_parameters(type(encoder))}
                encoder_outputs = encoder(input_ids=source_ids, attention_mask=source_mask, **extra_outputs)
            prepared.encoder_outputs = _repeat_rows(encoder_outputs, copies)
            prepared.encoder_attention_mask = None if source_mask is None else \
                source_mask.repeat_interleave(copies, dim=0)  # (b * copies, source)
        return prepared

    def _check_conditioning(self, conditioning: dict, batch: int, is_encoder_decoder: bool,
                            device) -> dict[str, torch.Tensor]:
        """``encoder_hidden_states=`` (b, n, d) and ``encoder_attention_mask=`` (b, n) of a decoder-only
        model whose forward cross-attends to them (BLIP's text decoder): checked, on the model's device."""
        if not conditioning:
            return {}
        names = ", ".join(f"{name}=" for name in conditioning)
        if is_encoder_decoder:
            raise ValueError(
                f"{type(self).__name__} is an encoder-decoder: it makes its own encoder states, so {names} are not "
                "taken; pass encoder_outputs= (the encoder's output) to reuse them."
            )
        if not set(conditioning) <= _forward_parameters(type(self)):
            raise ValueError(
                f"{type(self).__name__}'s forward has no cross-attention inputs, so generate() cannot take {names}; "
                "they are for decoders that read an encoder's states (e.g. BLIP's text decoder)."
            )
        checked = {}
        for name, value in conditioning.items():
            rank = 3 if name == "encoder_hidden_states" else 2
            if not isinstance(value, torch.Tensor) or value.dim() != rank or value.shape[0] != batch:
                shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(
                    f"{name} must be a tensor of rank {rank} with one row per prompt ({batch}), got {shape}."
                )
            checked[name] = value.to(device)
        return checked

    def _stopping_criteria(self, config: GenerationConfig, eos: list[int], tokenizer,
                           custom: list | None) -> StoppingCriteriaList:
        """When a row is done, in transformers' order: its length, the time, a stop string,
        an EOS token; then the caller's own criteria (one of the same class replaces ours)."""
        criteria = StoppingCriteriaList()
        criteria.append(MaxLengthCriteria(config.max_length, getattr(self.config, "max_position_embeddings", None)))
        if config.max_time is not None:
            criteria.append(MaxTimeCriteria(config.max_time))
        if config.stop_strings is not None:
            criteria.append(StopStringCriteria(tokenizer, config.stop_strings))
        if eos:
            criteria.append(EosTokenCriteria(eos))
        return _merge_custom(criteria, list(custom or []))

    def _generation_attention_mask(self, input_ids, attention_mask, config, eos, device) -> torch.Tensor | None:
        """The prompt's padding mask, (b, s), or None when nothing is padded (the causal
        mask is then enough). Without one, padding is inferred from ``pad_token_id``."""
        if attention_mask is None:
            if config.pad_token_id is None or config.pad_token_id in eos or \
                    not bool((input_ids == config.pad_token_id).any()):
                return None
            attention_mask = (input_ids != config.pad_token_id).long()  # padding inferred from the pad id
        elif not isinstance(attention_mask, torch.Tensor) or attention_mask.shape != input_ids.shape:
            shape = tuple(attention_mask.shape) if isinstance(attention_mask, torch.Tensor) else attention_mask
            raise ValueError(
                f"attention_mask must be a tensor shaped like input_ids {tuple(input_ids.shape)}, got {shape}; "
                "pass the tokenizer's output as is: model.generate(**tokenizer(texts, return_tensors='pt', "
                "padding=True))."
            )
        attention_mask = attention_mask.to(device=device, dtype=torch.long)
        return None if bool(attention_mask.bool().all()) else attention_mask

    def _decoder_start_token_id(self, config: GenerationConfig) -> int:
        """Where an encoder-decoder's decoder starts: the generation config's
        ``decoder_start_token_id``, else the model config's, else ``bos_token_id`` (as in
        transformers)."""
        for value in (config.decoder_start_token_id, getattr(self.config, "decoder_start_token_id", None),
                      config.bos_token_id):
            if value is not None:
                return int(value)
        raise ValueError(
            f"{type(self).__name__} is an encoder-decoder, so its decoder needs a first token, but neither the "
            "generation config nor the model config sets decoder_start_token_id (nor bos_token_id). Pass "
            "generate(..., decoder_start_token_id=ID) or set model.config.decoder_start_token_id."
        )

    # -- what the model decides: its inputs per step, its position limit -------------------

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.Tensor,
        past_key_values=None,
        attention_mask: torch.Tensor | None = None,
        *,
        encoder_outputs=None,
        decoder_attention_mask: torch.Tensor | None = None,
    ) -> dict[str, Any]:
        """The forward arguments of one decoding step, as transformers' method of that name.

        ``input_ids`` (b, s) is the whole sequence so far (an encoder-decoder's: the
        decoder's); with a cache, only the positions it has not seen are fed (the whole
        prompt on the first step, then one token), without one the whole sequence again.
        ``attention_mask`` (b, s) is its padding (an encoder-decoder's: the source's, and
        ``decoder_attention_mask`` the decoder's), or None when nothing is padded.

        Decoder-only: ``position_ids`` are counted from the mask (``cumsum - 1``, so each
        left-padded row starts at 0), passed only to a forward that takes them (without a
        mask the forward's own default, past .. past+new, is the same). ``logits_to_keep=1``
        where the forward has it: only the last position's logits are needed.
        Override in a family whose forward wants something else.
        """
        past = past_key_values.get_seq_length() if past_key_values is not None else 0
        new_ids = input_ids[:, past:]  # (b, new)
        forward_parameters = _forward_parameters(type(self))
        inputs: dict[str, Any] = {"past_key_values": past_key_values, "use_cache": past_key_values is not None}
        if getattr(self.config, "is_encoder_decoder", False):
            inputs.update(decoder_input_ids=new_ids, encoder_outputs=encoder_outputs, attention_mask=attention_mask)
            if decoder_attention_mask is not None:
                inputs["decoder_attention_mask"] = decoder_attention_mask
        else:
            inputs.update(input_ids=new_ids, attention_mask=attention_mask)
            if attention_mask is not None and "position_ids" in forward_parameters:
                position_ids = (attention_mask.cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)  # (b, s)
                inputs["position_ids"] = position_ids[:, past:]  # (b, new)
        if "logits_to_keep" in forward_parameters:
            inputs["logits_to_keep"] = 1
        return inputs

    def generation_position_limit(self) -> int | None:
        """How many positions the model learned (the rows of a position table), which caps
        prompt + new tokens; ``None`` (the default) for computed positions (rotary,
        relative, sinusoidal) with no hard limit. Families with a learned table override
        it (GPT-2: ``config.n_positions``)."""
        return None

    def _new_generation_cache(self):
        """An empty cache of the kind this model's forward fills."""
        return EncoderDecoderCache() if getattr(self.config, "is_encoder_decoder", False) else KVCache()

    def _check_special_ids(self, config, eos: list[int] | None, pad: int | None) -> None:
        """The special ids generate feeds back into the model must be tokens of its vocabulary: the padding
        written after a row's EOS (when an EOS can be generated at all) and an encoder-decoder's start
        token. (An EOS id outside the vocabulary is harmless, it is never generated: tiny test configs
        keep GPT-2's 50256, as transformers allows.)"""
        vocab = getattr(self.config, "decoder_vocab_size", None) or getattr(self.config, "vocab_size", None)
        if not isinstance(vocab, int):
            return
        named = []
        if any(0 <= int(index) < vocab for index in eos or []):
            named.append(("pad_token_id", pad))
        if getattr(self.config, "is_encoder_decoder", False):
            named.append(("decoder_start_token_id", getattr(config, "decoder_start_token_id", None)))
        for name, index in named:
            if index is not None and not 0 <= int(index) < vocab:
                raise ValueError(
                    f"generation_config.{name}={index} is not a token of this model, whose vocabulary has {vocab} ids "
                    f"[0, {vocab}): set {name} to an id the model knows (e.g. tokenizer.{name}, or "
                    f"model.generation_config.{name} = None where the model has no such token)."
                )

    def _next_token_logits(self, input_ids, attention_mask, cache, prepared: _Prepared):
        """One forward pass; returns the next token's logits (b, v) in float32, and the
        model's output (for the attentions / hidden states ``return_dict_in_generate`` keeps)."""
        if prepared.encoder_outputs is not None:
            inputs = self.prepare_inputs_for_generation(
                input_ids, cache, prepared.encoder_attention_mask, encoder_outputs=prepared.encoder_outputs,
                decoder_attention_mask=attention_mask,
            )
        else:
            inputs = self.prepare_inputs_for_generation(input_ids, cache, attention_mask)
            inputs.update(prepared.conditioning)  # the states a decoder-only model cross-attends to
        config = prepared.config
        if config.return_dict_in_generate:
            for name in ("output_attentions", "output_hidden_states"):
                if getattr(config, name) and name in _forward_parameters(type(self)):
                    inputs[name] = True
        outputs = self(**inputs)
        logits = outputs.logits[:, -1, :].to(dtype=torch.float32, copy=True)  # (b, v)
        if not config.remove_invalid_values and bool(torch.isnan(logits).any()):  # argmax of NaN picks silently
            rows = torch.isnan(logits).any(-1).nonzero().flatten().tolist()
            raise ValueError(
                f"the model's next-token logits hold NaN (row(s) {rows[:8]}, at length {input_ids.shape[1]}): a hook "
                "that returns NaN, weights that overflowed (float16), or NaN inputs. Check the hooks you added "
                "(model.reset_hooks() removes them) and the model's dtype."
            )
        return logits, outputs

    # -- greedy decoding and sampling -----------------------------------------------------

    def _sample(self, prepared: _Prepared, streamer=None, recorder: _StepRecorder | None = None):
        """Greedy decoding (argmax) or multinomial sampling, one token per step."""
        config = prepared.config
        input_ids, attention_mask = prepared.input_ids, prepared.attention_mask
        pad, criteria = prepared.pad_token_id, prepared.stopping_criteria
        # A row that is done keeps receiving padding (when something can end a row early).
        pad_finished = pad is not None and any(hasattr(c, "eos_token_id") for c in criteria)
        records = _StepRecords(config, prepared.encoder_outputs is not None)
        cache = self._new_generation_cache() if config.use_cache else None
        unfinished = torch.ones(input_ids.shape[0], dtype=torch.long, device=input_ids.device)  # (b,) 1 = running
        if streamer is not None:
            streamer.put(input_ids.cpu())

        while True:
            logits, outputs = self._next_token_logits(input_ids, attention_mask, cache, prepared)  # (b, v)
            trace = [] if recorder is not None else None
            scores = prepared.processors(input_ids, logits, trace=trace)  # (b, v)
            records.add(scores, logits, outputs)
            if config.do_sample:
                probs = F.softmax(scores, dim=-1)  # (b, v)
                next_tokens = torch.multinomial(probs, num_samples=1).squeeze(1)  # (b,)
            else:
                next_tokens = torch.argmax(scores, dim=-1)  # (b,)
            if pad_finished:
                next_tokens = next_tokens * unfinished + pad * (1 - unfinished)
            if recorder is not None:
                recorder.record(input_ids, logits, trace, int(next_tokens[0]), cache)

            input_ids = torch.cat([input_ids, next_tokens[:, None]], dim=-1)  # (b, s + 1)
            unfinished = unfinished & ~criteria(input_ids, records.scores)
            if streamer is not None:
                streamer.put(next_tokens.cpu())
            if unfinished.max() == 0:
                break
            # The new token is a real one: the mask gains a column.
            if attention_mask is not None:
                attention_mask = torch.cat([attention_mask, attention_mask.new_ones((attention_mask.shape[0], 1))], -1)

        if streamer is not None:
            streamer.end()
        if config.return_dict_in_generate:
            return records.output(prepared, cache, sequences=input_ids)
        return input_ids

    # -- beam search ---------------------------------------------------------------------

    def _beam_search(self, prepared: _Prepared):
        """Keep the ``num_beams`` most probable partial sequences per prompt.

        Each step, every running beam proposes every token; the sum of log-probabilities
        ranks all ``num_beams * vocab`` candidates. The best ``c`` candidates (``c`` =
        2 x beams, more with several EOS ids) are kept so that, even if some of them end
        here, ``num_beams`` can continue. Candidates that end (the stopping criteria say
        so: an EOS token, max_length, a stop string ...) among the top ``num_beams`` join
        the *finished* pool, scored ``sum log p / new_length ** length_penalty``; the pool
        keeps its best ``num_beams``. The search stops at max_length, when
        ``early_stopping=True`` and every pool is full, or when no running beam can beat
        its pool any more.

        The bookkeeping follows transformers' vectorised beam search step for step, so
        the same weights return the same sequences.
        """
        config = prepared.config
        eos = prepared.eos_token_ids
        num_beams, max_length = config.num_beams, config.max_length
        length_penalty, early_stopping = config.length_penalty, config.early_stopping
        flat_ids = prepared.input_ids  # (b * n, s)
        batch = flat_ids.shape[0] // num_beams
        prompt_length = cur_len = flat_ids.shape[1]
        device = flat_ids.device
        n_eos = eos.shape[0] if eos is not None else 0
        n_candidates = max(2, 1 + n_eos) * num_beams
        is_top_beam = torch.arange(n_candidates, device=device) < num_beams  # (c,) the first n candidates
        # Unused slots show the pad id (transformers' `pad or eos[0]`, so a pad id of 0 reads as unset).
        pad = prepared.pad_token_id
        fill = (pad if pad else int(eos[0])) if eos is not None else -1

        # Running beams and the finished pool, with room for every position up to max_length.
        running = torch.full((batch, num_beams, max_length), fill, dtype=torch.long, device=device)  # (b, n, L)
        running[:, :, :cur_len] = flat_ids.view(batch, num_beams, cur_len)
        finished = running.clone()  # (b, n, L)
        # Start with one live beam per prompt (the others are copies, scored -1e9, so the
        # first step does not pick the same token n times).
        running_scores = torch.zeros((batch, num_beams), device=device)  # (b, n) sum of log-probs
        running_scores[:, 1:] = -1e9
        finished_scores = torch.full((batch, num_beams), -1e9, device=device)  # (b, n) length-normalised
        is_finished = torch.zeros((batch, num_beams), dtype=torch.bool, device=device)  # (b, n) pool slot used
        can_improve = torch.ones((batch, 1), dtype=torch.bool, device=device)  # (b, 1)
        # For each generated position, the flat row (beam) the token was appended to; -1 = none yet.
        running_origin = torch.full((batch, num_beams, max_length - cur_len), -1, dtype=torch.int32, device=device)
        finished_origin = running_origin.clone()

        criteria = prepared.stopping_criteria
        records = _StepRecords(config, prepared.encoder_outputs is not None)
        cache = self._new_generation_cache() if config.use_cache else None
        attention_mask = prepared.attention_mask
        while True:
            logits, outputs = self._next_token_logits(flat_ids, attention_mask, cache, prepared)  # (b*n, v)
            vocab = logits.shape[-1]
            log_probs = F.log_softmax(logits, dim=-1)
            log_probs = prepared.processors(flat_ids, log_probs)  # (b*n, v)
            records.add(log_probs.clone(), logits.clone(), outputs)
            totals = log_probs.view(batch, num_beams, vocab) + running_scores[:, :, None]  # (b, n, v)
            totals = totals.view(batch, num_beams * vocab)  # (b, n*v)

            # a. The best candidates over all beams (or sampled ones, for beam sampling).
            if config.do_sample:
                picked = torch.multinomial(F.softmax(totals, dim=-1), num_samples=n_candidates)  # (b, c)
                cand_scores = torch.gather(totals, 1, picked)
            else:
                cand_scores, picked = torch.topk(totals, n_candidates)  # (b, c)
            cand_beam = picked // vocab  # (b, c) which beam each candidate extends
            cand_token = picked % vocab  # (b, c) with which token
            cand_seqs = _take_beams(running, cand_beam)  # (b, c, L)
            cand_seqs[:, :, cur_len] = cand_token
            cand_origin = _take_beams(running_origin, cand_beam)  # (b, c, L - prompt)
            row_offset = torch.arange(batch, device=device)[:, None] * num_beams  # (b, 1) first flat row of a prompt
            cand_origin[:, :, cur_len - prompt_length] = cand_beam + row_offset

            # b. Which candidates end here: ask the stopping criteria about each one.
            cand_flat = cand_seqs[:, :, : cur_len + 1].reshape(batch * n_candidates, cur_len + 1)  # (b*c, s + 1)
            cand_ends = criteria(cand_flat, records.scores).view(batch, n_candidates)  # (b, c)

            # c. The best candidates that do not end keep running.
            alive_scores = cand_scores + cand_ends.float() * -1e9
            keep = torch.topk(alive_scores, num_beams).indices  # (b, n)
            running = _take_beams(cand_seqs, keep)
            running_scores = _take_beams(alive_scores, keep)
            running_origin = _take_beams(cand_origin, keep)

            # d. Ending candidates among the top n enter the finished pool if they beat it.
            new_scores = cand_scores / ((cur_len + 1 - prompt_length) ** length_penalty)
            pool_full = is_finished.all(dim=-1, keepdim=True) & (early_stopping is True)  # (b, 1)
            new_scores = new_scores + pool_full.float() * -1e9
            new_scores = new_scores + (~can_improve).float() * -1e9
            enters = cand_ends & is_top_beam[None, :]  # (b, c)
            new_scores = new_scores + (~enters) * -1e9
            merged_scores = torch.cat([finished_scores, new_scores], dim=1)  # (b, n + c)
            best = torch.topk(merged_scores, num_beams).indices  # (b, n)
            finished = _take_beams(torch.cat([finished, cand_seqs], dim=1), best)
            finished_scores = _take_beams(merged_scores, best)
            finished_origin = _take_beams(torch.cat([finished_origin, cand_origin], dim=1), best)
            is_finished = _take_beams(torch.cat([is_finished, enters], dim=1), best)

            # e. The cache follows the beams: row i now continues the row it was copied from.
            if cache is not None:
                cache.reorder_cache(running_origin[:, :, cur_len - prompt_length].reshape(-1))
            cur_len += 1

            # f. Could a running beam still beat the worst finished one?
            if early_stopping == "never" and length_penalty > 0.0:
                best_length = max_length - prompt_length  # it may grow until max_length
            else:
                best_length = cur_len - prompt_length
            best_running = running_scores[:, :1] / (best_length**length_penalty)  # (b, 1)
            worst_finished = torch.where(is_finished, finished_scores.min(dim=1, keepdim=True).values, -1e9)  # (b, n)
            can_improve = can_improve & (best_running > worst_finished).any(dim=-1, keepdim=True)

            all_pools_full = bool(is_finished.all()) and early_stopping is True
            if not bool(can_improve.any()) or all_pools_full or bool(cand_ends.all()):
                break
            flat_ids = running[:, :, :cur_len].reshape(batch * num_beams, cur_len)  # (b*n, s)
            if attention_mask is not None:
                attention_mask = torch.cat([attention_mask, attention_mask.new_ones((attention_mask.shape[0], 1))], -1)

        # The best num_return_sequences of each pool, cut to the longest one returned.
        keep_n = config.num_return_sequences
        sequences = finished[:, :keep_n].reshape(batch * keep_n, max_length)
        origins = finished_origin[:, :keep_n].reshape(batch * keep_n, -1)
        generated = int((origins >= 0).sum(dim=1).max())
        sequences = sequences[:, : prompt_length + generated]
        if config.return_dict_in_generate:
            sequences_scores = finished_scores[:, :keep_n].reshape(-1) if config.output_scores else None
            return records.output(prepared, cache, sequences=sequences, sequences_scores=sequences_scores,
                                  beam_indices=origins[:, :generated])
        return sequences


# What a decoder-only model that cross-attends may take besides its prompt (transformers passes any model
# kwarg through; these two are the ones a decoder reading given states needs).
CONDITIONING_INPUTS = ("encoder_hidden_states", "encoder_attention_mask")


def _check_can_generate(model) -> None:
    """Generation needs next-token logits, i.e. a language-modelling head."""
    get_head = getattr(model, "get_output_embeddings", None)
    head = get_head() if callable(get_head) else None
    if head is None or not isinstance(model, GenerationMixin):
        raise TypeError(
            f"{type(model).__name__} has no language-modelling head, so it cannot predict the next token "
            "and cannot generate. Load a causal LM instead: AutoModelForCausalLM.from_pretrained(...) "
            "(e.g. GPT2LMHeadModel rather than GPT2Model)."
        )


@functools.cache
def _forward_parameters(model_class: type) -> frozenset[str]:
    """The argument names of a model class's ``forward`` (read once per class)."""
    return frozenset(inspect.signature(model_class.forward).parameters)


def _check_encoder_outputs(encoder_outputs, input_ids) -> torch.Tensor:
    """``generate(encoder_outputs=...)``: the encoder already ran. Returns (b, 1) placeholder ids
    (only their batch size is read) after checking the output's type."""
    states = getattr(encoder_outputs, "last_hidden_state", None)
    if not isinstance(states, torch.Tensor) or states.dim() != 3 or not dataclasses.is_dataclass(encoder_outputs):
        raise TypeError(
            "encoder_outputs must be what the model's encoder returns (a BaseModelOutput whose last_hidden_state "
            f"is (batch, source, d_model)), got {type(encoder_outputs).__name__}; e.g. "
            "encoder_outputs=model.get_encoder()(input_ids)."
        )
    if input_ids is not None:
        raise ValueError("pass the source once: input_ids (to encode) or encoder_outputs (encoded), not both.")
    return torch.zeros((states.shape[0], 1), dtype=torch.long)  # (b, 1)


def _check_source_mask(attention_mask, encoder_outputs, device) -> torch.Tensor | None:
    """The source's padding mask next to given encoder outputs: (b, source) or None."""
    if attention_mask is None:
        return None
    states = encoder_outputs.last_hidden_state  # (b, s, d)
    if not isinstance(attention_mask, torch.Tensor) or tuple(attention_mask.shape) != tuple(states.shape[:2]):
        shape = tuple(attention_mask.shape) if isinstance(attention_mask, torch.Tensor) else attention_mask
        raise ValueError(
            f"attention_mask must be the source's padding mask {tuple(states.shape[:2])} (batch, source positions of "
            f"encoder_outputs), got {shape}."
        )
    attention_mask = attention_mask.to(device=device, dtype=torch.long)
    return None if bool(attention_mask.bool().all()) else attention_mask


def _repeat_rows(outputs, copies: int):
    """An encoder's output with each row repeated ``copies`` times (one per beam or
    sample), like ``input_ids.repeat_interleave``; fields that are not tensors (tuples
    of per-layer states) are left as they are."""
    if copies == 1:
        return outputs
    repeated = {
        name: value.repeat_interleave(copies, dim=0)
        for name, value in ((f.name, getattr(outputs, f.name)) for f in dataclasses.fields(outputs))
        if isinstance(value, torch.Tensor)
    }
    return dataclasses.replace(outputs, **repeated)


def _take_beams(tensor: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Pick along dim 1: (b, m, ...) and (b, k) indices -> (b, k, ...)."""
    while indices.dim() < tensor.dim():
        indices = indices.unsqueeze(-1)
    return torch.take_along_dim(tensor, indices, dim=1)
