"""GenerationConfig: the knobs of ``generate``, read from and written to ``generation_config.json``.

Also the tables ``generate`` resolves a config against: :data:`GENERATION_DEFAULTS` (what an
unset field means) and :data:`UNSUPPORTED_OPTIONS` (options transformers knows and hfexplain
does not implement, with the value that means "off").
"""
from __future__ import annotations

import copy
import inspect
import json
import math
import os
from typing import Any

from ..configuration import HUB_KWARGS, write_text_atomically

GENERATION_CONFIG_NAME = "generation_config.json"

# What ``generate`` uses for a field that neither the call, nor the config passed in, nor
# the model's own generation config sets (transformers' ``_get_default_generation_params``).
GENERATION_DEFAULTS: dict[str, Any] = {
    "max_length": 20,
    "min_length": 0,
    "do_sample": False,
    "use_cache": True,
    "early_stopping": False,
    "num_beams": 1,
    "temperature": 1.0,
    "top_k": 50,
    "top_p": 1.0,
    "repetition_penalty": 1.0,
    "length_penalty": 1.0,
    "num_return_sequences": 1,
    "return_dict_in_generate": False,
    "output_scores": False,
    "output_logits": False,
}

# Options transformers' generate knows but hfexplain does not implement, with the value
# that means "off". A generation_config.json may carry them; they are kept (and written
# back), and generate refuses only when one is switched on.
UNSUPPORTED_OPTIONS: dict[str, Any] = {
    "num_beam_groups": 1,
    "diversity_penalty": 0.0,
    "penalty_alpha": None,
    "constraints": None,
    "force_words_ids": None,
    "dola_layers": None,
    "prompt_lookup_num_tokens": None,
    "assistant_early_exit": None,
    "use_mtp": None,
    "watermarking_config": None,
    "token_healing": False,
    "low_memory": None,
}

# Book-keeping keys of generation_config.json that are not options.
_METADATA_KEYS = ("transformers_version", "_commit_hash", "_original_object_hash")


# =====================================================================================
# GenerationConfig
# =====================================================================================


class GenerationConfig:
    """The knobs of ``generate``, with transformers' names, read from ``generation_config.json``.

    Every field defaults to ``None``, meaning "not set here": ``generate`` then takes the
    value from the model's own ``generation_config``, and failing that from
    :data:`GENERATION_DEFAULTS` (e.g. ``max_length=20``, ``top_k=50``).

    Length:
        max_new_tokens: how many tokens to add to the prompt (takes precedence).
        max_length: the total length, prompt included (default 20, used only without
            ``max_new_tokens``).
        min_new_tokens, min_length: forbid the end-of-sequence token until this many new
            tokens (or this total length) exist.
    Strategy:
        do_sample: ``False`` picks the most likely token (greedy, or beam search);
            ``True`` draws it at random from the processed distribution.
        num_beams: ``1`` for greedy/sampling; more keeps that many hypotheses (beam search).
        num_return_sequences: sequences returned per prompt (sampling or beam search).
        use_cache: reuse keys/values of earlier positions (default ``True``).
    Reshaping the distribution (applied in this order):
        repetition_penalty: > 1 makes tokens already in the sequence less likely.
        no_repeat_ngram_size: > 0 forbids any n-gram of that size to occur twice.
        suppress_tokens: token ids that may never be generated.
        begin_suppress_tokens: token ids that may not be the first generated token.
        forced_bos_token_id: the token the first generated token must be (encoder-decoders
            such as multilingual BART pick the target language this way).
        forced_eos_token_id: the token (an int or a list) the last token must be, when
            ``max_length`` is reached.
        temperature: divides the logits; < 1 sharpens, > 1 flattens (sampling only).
        top_k: keep only the k most likely tokens (sampling only; default 50, 0 = off).
        top_p: keep the smallest set of tokens whose probability adds up to top_p
            (nucleus sampling; sampling only; default 1.0 = off).
        min_p, typical_p, epsilon_cutoff, eta_cutoff, top_h: the other sampling filters
            (see their warpers in ``logits_process``; sampling only, off when unset).
        bad_words_ids: token sequences that may never be generated ([[ids], ...]).
        sequence_bias: additive biases for token sequences ([[[ids], bias], ...]).
        exponential_decay_length_penalty: (start, factor): after ``start`` new tokens the
            EOS score grows by ``factor ** (tokens past start)``.
        encoder_no_repeat_ngram_size, encoder_repetition_penalty: the same ideas measured
            against the encoder's input (the source, or a decoder-only model's prompt).
        guidance_scale: classifier-free guidance (decoder-only): != 1 mixes in the
            next-token scores of an unconditional (or ``negative_prompt_ids``) branch.
        renormalize_logits, remove_invalid_values: log-softmax after every processor;
            replace NaN/inf scores by finite values.
    Stopping:
        stop_strings: a string or list of strings; a row stops once its text ends with
            one (``generate(..., tokenizer=tok)`` is needed to read the tokens as text).
        max_time: seconds after which generation stops.
    Beam search:
        length_penalty: finished beams are scored ``sum log p / length ** length_penalty``.
        early_stopping: ``True`` stops as soon as ``num_beams`` beams are finished;
            ``False`` (default) stops when no running beam can plausibly beat them;
            ``"never"`` only when none can possibly beat them.
    Output:
        return_dict_in_generate: return a ``Generate*Output`` (``sequences`` and, if asked,
            ``scores``: the processed scores of each step, ``logits``: the raw ones,
            ``attentions`` / ``hidden_states`` with ``output_attentions`` /
            ``output_hidden_states``) instead of the ids alone.
        output_scores, output_logits: fill ``scores`` / ``logits`` in that output.
    Special tokens:
        eos_token_id (an int or a list), pad_token_id, bos_token_id.
        decoder_start_token_id: where an encoder-decoder's decoder starts (falls back to
            the model config's, then to ``bos_token_id``, as in transformers).

    Other keys found in a ``generation_config.json`` are kept and written back unchanged.
    """

    def __init__(
        self,
        *,
        max_length: int | None = None,
        max_new_tokens: int | None = None,
        min_length: int | None = None,
        min_new_tokens: int | None = None,
        do_sample: bool | None = None,
        num_beams: int | None = None,
        num_return_sequences: int | None = None,
        use_cache: bool | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
        no_repeat_ngram_size: int | None = None,
        suppress_tokens: list[int] | None = None,
        begin_suppress_tokens: list[int] | None = None,
        forced_bos_token_id: int | None = None,
        forced_eos_token_id: int | list[int] | None = None,
        length_penalty: float | None = None,
        early_stopping: bool | str | None = None,
        eos_token_id: int | list[int] | None = None,
        pad_token_id: int | None = None,
        bos_token_id: int | None = None,
        decoder_start_token_id: int | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict_in_generate: bool | None = None,
        output_scores: bool | None = None,
        output_logits: bool | None = None,
        min_p: float | None = None,
        typical_p: float | None = None,
        epsilon_cutoff: float | None = None,
        eta_cutoff: float | None = None,
        top_h: float | None = None,
        bad_words_ids: list[list[int]] | None = None,
        sequence_bias: list | dict | None = None,
        exponential_decay_length_penalty: tuple[int, float] | None = None,
        encoder_no_repeat_ngram_size: int | None = None,
        encoder_repetition_penalty: float | None = None,
        guidance_scale: float | None = None,
        renormalize_logits: bool | None = None,
        remove_invalid_values: bool | None = None,
        stop_strings: str | list[str] | None = None,
        max_time: float | None = None,
        **kwargs: Any,
    ):
        self.max_length = max_length
        self.max_new_tokens = max_new_tokens
        self.min_length = min_length
        self.min_new_tokens = min_new_tokens
        self.do_sample = do_sample
        self.num_beams = num_beams
        self.num_return_sequences = num_return_sequences
        self.use_cache = use_cache
        self.temperature = temperature
        self.top_k = top_k
        self.top_p = top_p
        self.repetition_penalty = repetition_penalty
        self.no_repeat_ngram_size = no_repeat_ngram_size
        self.suppress_tokens = suppress_tokens
        self.begin_suppress_tokens = begin_suppress_tokens
        self.forced_bos_token_id = forced_bos_token_id
        self.forced_eos_token_id = forced_eos_token_id
        self.length_penalty = length_penalty
        self.early_stopping = early_stopping
        self.eos_token_id = eos_token_id
        self.pad_token_id = pad_token_id
        self.bos_token_id = bos_token_id
        self.decoder_start_token_id = decoder_start_token_id
        self.output_attentions = output_attentions
        self.output_hidden_states = output_hidden_states
        self.return_dict_in_generate = return_dict_in_generate
        self.output_scores = output_scores
        self.output_logits = output_logits
        self.min_p = min_p
        self.typical_p = typical_p
        self.epsilon_cutoff = epsilon_cutoff
        self.eta_cutoff = eta_cutoff
        self.top_h = top_h
        self.bad_words_ids = bad_words_ids
        self.sequence_bias = sequence_bias
        self.exponential_decay_length_penalty = exponential_decay_length_penalty
        self.encoder_no_repeat_ngram_size = encoder_no_repeat_ngram_size
        self.encoder_repetition_penalty = encoder_repetition_penalty
        self.guidance_scale = guidance_scale
        self.renormalize_logits = renormalize_logits
        self.remove_invalid_values = remove_invalid_values
        self.stop_strings = stop_strings
        self.max_time = max_time
        # transformers marks a config derived from the model's config.json with this flag.
        self._from_model_config = kwargs.pop("_from_model_config", None)
        for key in _METADATA_KEYS:
            kwargs.pop(key, None)
        for key, value in kwargs.items():  # other keys are kept and written back
            setattr(self, key, value)
        self.validate()

    # -- checks --------------------------------------------------------------------

    def validate(self) -> None:
        """Raise a ValueError for a value no generation can use, saying how to fix it.

        Values that only matter in one mode are checked only in that mode (a
        ``temperature`` of 0 is harmless when ``do_sample`` is off).
        """
        if self.max_new_tokens is not None and (not _is_int(self.max_new_tokens) or self.max_new_tokens < 1):
            raise ValueError(
                f"max_new_tokens must be an integer >= 1, got {self.max_new_tokens!r}; it is how many tokens "
                "to add to the prompt. To score a prompt without generating, call the model: model(input_ids).logits."
            )
        if self.max_length is not None and (not _is_int(self.max_length) or self.max_length < 1):
            raise ValueError(f"max_length must be an integer >= 1, got {self.max_length!r}; prefer max_new_tokens.")
        for name in ("min_new_tokens", "min_length"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 0):
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}.")
        if self.num_beams is not None and (not _is_int(self.num_beams) or self.num_beams < 1):
            raise ValueError(
                f"num_beams must be an integer >= 1, got {self.num_beams!r}: 1 means greedy decoding or sampling, "
                "more than 1 means beam search with that many hypotheses."
            )
        if self.num_return_sequences is not None and (
            not _is_int(self.num_return_sequences) or self.num_return_sequences < 1
        ):
            raise ValueError(f"num_return_sequences must be an integer >= 1, got {self.num_return_sequences!r}.")
        if self.top_p is not None and not (_is_finite_number(self.top_p) and 0 < self.top_p <= 1):
            raise ValueError(
                f"top_p must be in (0, 1], got {self.top_p!r}: it is the share of probability mass to keep "
                "(e.g. top_p=0.9); top_p=1.0 switches nucleus filtering off."
            )
        if self.top_k is not None and (not _is_int(self.top_k) or self.top_k < 0):
            raise ValueError(
                f"top_k must be an integer >= 0, got {self.top_k!r}: the number of most likely tokens to keep; "
                "0 switches top-k filtering off."
            )
        if self.repetition_penalty is not None and not (
            _is_finite_number(self.repetition_penalty) and self.repetition_penalty > 0
        ):
            raise ValueError(
                f"repetition_penalty must be a number > 0, got {self.repetition_penalty!r}: 1.0 is no penalty, "
                "above 1 discourages repeating tokens (1.2 is a common choice)."
            )
        if self.temperature is not None and not _is_finite_number(self.temperature):
            raise ValueError(
                f"temperature must be a finite number, got {self.temperature!r}: the logits are divided by it "
                "(1.0 leaves them as they are, below 1 sharpens, above 1 flattens)."
            )
        if self.do_sample and self.temperature is not None and self.temperature <= 0:
            raise ValueError(
                f"temperature must be > 0 when sampling (do_sample=True), got {self.temperature!r}: the logits "
                "are divided by it. For the always-most-likely token, use greedy decoding: do_sample=False."
            )
        if self.early_stopping not in (None, True, False, "never"):
            raise ValueError(f"early_stopping must be True, False or 'never', got {self.early_stopping!r}.")
        if self.length_penalty is not None and not isinstance(self.length_penalty, (int, float)):
            raise ValueError(f"length_penalty must be a number, got {self.length_penalty!r}.")
        if self.num_return_sequences is not None and self.num_return_sequences > 1:
            beams = self.num_beams or 1
            if beams == 1 and not self.do_sample:
                raise ValueError(
                    f"num_return_sequences={self.num_return_sequences} needs sampling (do_sample=True) or beam "
                    "search (num_beams >= num_return_sequences): greedy decoding has only one answer."
                )
            if beams > 1 and self.num_return_sequences > beams:
                raise ValueError(
                    f"num_return_sequences ({self.num_return_sequences}) must be <= num_beams ({beams}): beam "
                    "search can return only the beams it kept."
                )
        for name in ("pad_token_id", "forced_bos_token_id", "decoder_start_token_id"):
            value = getattr(self, name)
            if value is not None and not (_is_int(value) and value >= 0):
                raise ValueError(f"{name} must be a token id (an integer >= 0), got {value!r}.")
        if self.no_repeat_ngram_size is not None and (
            not _is_int(self.no_repeat_ngram_size) or self.no_repeat_ngram_size < 0
        ):
            raise ValueError(
                f"no_repeat_ngram_size must be an integer >= 0, got {self.no_repeat_ngram_size!r}: the n-gram size "
                "that may occur only once (e.g. 3); 0 switches it off."
            )
        for name in ("suppress_tokens", "begin_suppress_tokens", "forced_eos_token_id"):
            value = getattr(self, name)
            ids = [value] if name == "forced_eos_token_id" and _is_int(value) else value
            if value is not None and not (
                isinstance(ids, (list, tuple)) and all(_is_int(t) and t >= 0 for t in ids)
            ):
                raise ValueError(
                    f"{name} must be a list of token ids (integers >= 0), got {value!r}; e.g. {name}=[13, 50256]."
                )
        self._validate_filters_and_penalties()

    def _validate_filters_and_penalties(self) -> None:
        """The sampling filters, the sequence penalties and the stopping options (transformers
        checks most of these when it builds their processor; here they fail before any work)."""
        # name -> (lowest, highest, lowest allowed?, highest allowed?, what it means)
        ranges = {
            "min_p": (0, 1, True, True, "the share of the top token's probability a token needs (0.05 is common)"),
            "typical_p": (0, 1, False, True, "the probability mass of typical tokens to keep; 1.0 switches it off"),
            "epsilon_cutoff": (0, 1, True, False, "the probability a token needs (3e-4 is common); 0 is off"),
            "eta_cutoff": (0, 1, True, False, "the entropy-scaled cutoff (3e-4 to 2e-3 in the paper); 0 is off"),
            "top_h": (0, 1, False, True, "the share of the entropy the kept tokens may use (0.4 is common)"),
        }
        for name, (low, high, low_ok, high_ok, meaning) in ranges.items():
            value = getattr(self, name)
            if value is None:
                continue
            inside = _is_finite_number(value) and (low <= value if low_ok else low < value) and \
                (value <= high if high_ok else value < high)
            if not inside:
                interval = f"{'[' if low_ok else '('}{low}, {high}{']' if high_ok else ')'}"
                raise ValueError(f"{name} must be a number in {interval}, got {value!r}: {meaning}.")
        if self.encoder_no_repeat_ngram_size is not None and (
            not _is_int(self.encoder_no_repeat_ngram_size) or self.encoder_no_repeat_ngram_size < 0
        ):
            raise ValueError(
                f"encoder_no_repeat_ngram_size must be an integer >= 0, got {self.encoder_no_repeat_ngram_size!r}: "
                "n-grams of the source of that size may not be repeated; 0 switches it off."
            )
        for name in ("encoder_repetition_penalty", "guidance_scale"):
            value = getattr(self, name)
            if value is not None and not (_is_finite_number(value) and value > 0):
                raise ValueError(f"{name} must be a number > 0, got {value!r}; 1.0 switches it off.")
        if self.max_time is not None and not (_is_finite_number(self.max_time) and self.max_time >= 0):
            raise ValueError(f"max_time must be a number of seconds >= 0, got {self.max_time!r}.")
        if self.bad_words_ids is not None and not (
            isinstance(self.bad_words_ids, (list, tuple)) and len(self.bad_words_ids) > 0
            and all(_is_id_sequence(ids) for ids in self.bad_words_ids)
        ):
            raise ValueError(
                f"bad_words_ids must be a non-empty list of lists of token ids, got {self.bad_words_ids!r}; e.g. "
                "bad_words_ids=tokenizer([' bad', ' worse'], add_special_tokens=False).input_ids."
            )
        if self.sequence_bias is not None:
            pairs = list(self.sequence_bias.items()) if isinstance(self.sequence_bias, dict) else self.sequence_bias
            if not (isinstance(pairs, (list, tuple)) and len(pairs) > 0 and all(
                isinstance(pair, (list, tuple)) and len(pair) == 2 and _is_id_sequence(pair[0])
                and isinstance(pair[1], float) for pair in pairs
            )):
                raise ValueError(
                    f"sequence_bias must be a non-empty list of [token ids, float bias] pairs, got "
                    f"{self.sequence_bias!r}; e.g. sequence_bias=[[[1425], -10.0], [[262, 3290], 2.0]]."
                )
        decay = self.exponential_decay_length_penalty
        if decay is not None and not (
            isinstance(decay, (list, tuple)) and len(decay) == 2 and _is_int(decay[0]) and decay[0] >= 0
            and _is_finite_number(decay[1]) and decay[1] > 0
        ):
            raise ValueError(
                f"exponential_decay_length_penalty must be (start, factor): an integer >= 0 and a number > 0, got "
                f"{decay!r}; e.g. (10, 1.5) makes the EOS token more likely by 1.5x per token after 10 new ones."
            )
        stops = [self.stop_strings] if isinstance(self.stop_strings, str) else self.stop_strings
        if stops is not None and not (
            isinstance(stops, (list, tuple)) and len(stops) > 0 and all(isinstance(t, str) and t for t in stops)
        ):
            raise ValueError(
                f"stop_strings must be a non-empty string or a list of them, got {self.stop_strings!r}; "
                "e.g. stop_strings=['\\n\\n', 'Question:']."
            )
        for name in ("output_scores", "output_logits", "renormalize_logits", "remove_invalid_values",
                     "return_dict_in_generate"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise ValueError(f"{name} must be True or False, got {value!r}.")

    # -- dict and JSON -------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Every field (set or not) and every extra key, as a JSON-friendly dict."""
        return {key: copy.deepcopy(value) for key, value in self.__dict__.items() if key not in _METADATA_KEYS}

    def to_diff_dict(self) -> dict[str, Any]:
        """Only the fields that are set (not ``None``): what ``generation_config.json`` holds."""
        return {key: value for key, value in self.to_dict().items() if value is not None}

    def to_json_string(self, use_diff: bool = True) -> str:
        config = self.to_diff_dict() if use_diff else self.to_dict()
        return json.dumps(config, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any):
        """A config from a dict, ``kwargs`` overriding its fields. With
        ``return_unused_kwargs=True``: ``(config, unused)``, where ``unused`` holds the
        kwargs the config did not take (as in transformers, every key is kept, so it is
        empty: an unknown key becomes an extra field that is written back)."""
        return_unused_kwargs = kwargs.pop("return_unused_kwargs", False)
        config = cls(**{**config_dict, **kwargs})
        unused = config.update(**kwargs)
        return (config, unused) if return_unused_kwargs else config

    def update(self, **kwargs: Any) -> dict[str, Any]:
        """Set the given fields that this config has; return the others unchanged."""
        unused = {}
        for key, value in kwargs.items():
            if hasattr(self, key):
                setattr(self, key, value)
            else:
                unused[key] = value
        self.validate()
        return unused

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GenerationConfig) and self.to_diff_dict() == other.to_diff_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"

    # -- files ----------------------------------------------------------------------

    def save_pretrained(self, save_directory: str | os.PathLike, config_file_name: str | None = None) -> str:
        """Write ``generation_config.json`` (only the fields that are set), atomically."""
        self.validate()
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise OSError(f"{save_directory!r} is a file; save_pretrained needs a folder path.")
        path = os.path.join(save_directory, config_file_name or GENERATION_CONFIG_NAME)
        write_text_atomically(path, self.to_json_string())
        return path

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name: str | os.PathLike, config_file_name: str | os.PathLike | None = None,
        **kwargs: Any,
    ):
        """Read ``generation_config.json`` from a folder or a Hub repo id.

        ``config_file_name``: another file name in that folder or repo (e.g. one of several
        saved with ``save_pretrained(folder, config_file_name="creative.json")``).
        Accepts the hub arguments (``revision``, ``cache_dir``, ``token``,
        ``local_files_only``, ``subfolder``); other keyword arguments override fields.
        ``return_unused_kwargs=True`` returns ``(config, unused_kwargs)`` as in transformers.
        """
        from ..hub import cached_file

        hub_kwargs = {key: kwargs.pop(key) for key in list(kwargs) if key in HUB_KWARGS}
        file_name = os.fspath(config_file_name) if config_file_name is not None else GENERATION_CONFIG_NAME
        where = os.path.join(os.fspath(pretrained_model_name), hub_kwargs.get("subfolder") or "")
        if os.path.isdir(where) and not os.path.isfile(os.path.join(where, file_name)):
            not_generation = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
            others = sorted(name for name in os.listdir(where) if name.endswith(".json") and name not in not_generation)
            if others:
                raise OSError(
                    f"{where!r} has no file {file_name!r}, but holds {others}: pass the one you mean as "
                    f"GenerationConfig.from_pretrained(..., config_file_name={others[0]!r})."
                )
        path = cached_file(pretrained_model_name, file_name, **hub_kwargs)
        return cls.from_dict(_read_json_object(path), **kwargs)

    @classmethod
    def from_model_config(cls, model_config) -> "GenerationConfig":
        """The generation settings a model's ``config.json`` carries (special token ids,
        ``use_cache`` ...), as transformers derives them when a checkpoint has no
        ``generation_config.json``."""
        config_dict = model_config.to_dict() if hasattr(model_config, "to_dict") else dict(model_config)
        known = inspect.signature(cls.__init__).parameters
        picked = {key: value for key, value in config_dict.items() if key in known and value is not None}
        return cls(**picked, _from_model_config=True)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_id_sequence(value: Any) -> bool:
    """A non-empty list (or tuple) of token ids, integers >= 0."""
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(_is_int(t) and t >= 0 for t in value)


def _is_finite_number(value: Any) -> bool:
    """An int or float that is neither NaN nor infinite (NaN passes every ``<`` and ``>`` test as False)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _read_json_object(path: str) -> dict[str, Any]:
    from ..hub import read_json_object  # the one JSON-object reader

    return read_json_object(path, what="a generation config")
