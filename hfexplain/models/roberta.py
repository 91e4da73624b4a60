"""RoBERTa (Liu et al., 2019), with Hugging Face's module tree and parameter names.

    tokens ─► word + position (offset) + token-type embeddings ─► LayerNorm ─► dropout
           ─► [ layer × num_hidden_layers ] ─► last_hidden_state ─► task head

What changed since BERT, and where to look:

* **The architecture did not change.** RoBERTa is BERT trained longer, on more text,
  with bigger batches, dynamic masking and no next-sentence objective. Every layer below
  (attention, MLP, post-norm) is a marked copy of ``bert.py``: ``tests/test_copies.py``
  fails if one drifts.
* **Positions start at ``padding_idx + 1``** and are *counted from the input*: each real
  token gets 1 + the number of real tokens up to and including it, offset by ``padding_idx``,
  and every pad token gets ``padding_idx`` itself (see ``create_position_ids_from_input_ids``).
  So left padding does not shift a sentence's positions, and the position table has
  ``max_position_embeddings = 514`` rows for 512 usable positions (rows 0 and 1, the pad id,
  are never read by a real token). This is fairseq's convention, kept so its checkpoints load.
* **A byte-level BPE tokenizer** (GPT-2's, 50k merges) instead of WordPiece, with ``<s> A </s>``
  and ``<s> A </s></s> B </s>`` around the text and no token types (``type_vocab_size=1``).
* **Heads**: the masked-LM head is ``lm_head`` (dense, GELU, ``layer_norm``, decoder tied to
  the word embeddings); the sequence classifier is its own small MLP on the ``<s>`` token
  (``classifier.dense`` -> tanh -> ``classifier.out_proj``), not BERT's pooler + one linear.
  Token classification and question answering are BERT's generic heads.

Shapes: b=batch, s=sequence, d=hidden_size, h=num_attention_heads, e=d/h (head dim),
m=intermediate_size, v=vocab_size, c=num_labels.

Hook points: the same as BERT's (see ``hfexplain.models.bert``), under ``roberta.encoder.layer.i``;
``embeddings.hook_pos_embed`` holds the offset position embeddings actually added.
"""
from __future__ import annotations

import torch
from torch import nn

from ..configuration import PretrainedConfig
from ..heads import (
    GenericForQuestionAnswering,
    GenericForTokenClassification,
    check_model_inputs,
    masked_lm_loss,
    sequence_classification_loss,
)
from ..hooks import HookPoint
from ..layers import attend, build_attention_mask, get_activation
from ..modeling import PreTrainedModel
from ..outputs import BaseModelOutputWithPooling, MaskedLMOutput, SequenceClassifierOutput


class RobertaConfig(PretrainedConfig):
    """RoBERTa's hyper-parameters, with the names and defaults of transformers' ``RobertaConfig``
    (roberta-base's shapes; the real checkpoints say ``vocab_size=50265``,
    ``max_position_embeddings=514``, ``type_vocab_size=1``, ``layer_norm_eps=1e-5``)."""

    model_type = "roberta"

    def __init__(
        self,
        vocab_size: int = 50265,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        pad_token_id: int | None = 1,
        bos_token_id: int | None = 0,
        eos_token_id: int | None = 2,
        use_cache: bool = True,
        classifier_dropout: float | None = None,
        is_decoder: bool = False,
        add_cross_attention: bool = False,
        tie_word_embeddings: bool = True,
        **kwargs,
    ):
        if is_decoder or add_cross_attention:
            raise NotImplementedError(
                "hfexplain's RoBERTa is an encoder only: is_decoder=True / add_cross_attention=True "
                "(RobertaForCausalLM, encoder-decoder RoBERTa) are not supported. Set both to False."
            )
        if not isinstance(hidden_act, str):
            raise TypeError(
                f"hidden_act must be an activation name such as 'gelu', got {type(hidden_act).__name__}; "
                "configs are plain data, so pass the name."
            )
        if hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size ({hidden_size}) must be divisible by num_attention_heads ({num_attention_heads}); "
                "each head gets hidden_size / num_attention_heads dimensions."
            )
        if pad_token_id is None or not 0 <= pad_token_id < vocab_size:
            raise ValueError(
                f"RoBERTa counts positions from pad_token_id + 1 and gives pad tokens the position pad_token_id, "
                f"so pad_token_id must be a token id in [0, {vocab_size}), got {pad_token_id!r}; "
                "roberta-base uses pad_token_id=1."
            )
        if max_position_embeddings <= pad_token_id + 1:
            raise ValueError(
                f"max_position_embeddings ({max_position_embeddings}) leaves no position for a token: RoBERTa's "
                f"positions start at pad_token_id + 1 = {pad_token_id + 1}. Use max_position_embeddings = "
                "the longest input + pad_token_id + 1 (roberta-base: 512 + 2 = 514)."
            )
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.use_cache = use_cache
        self.classifier_dropout = classifier_dropout
        self.add_cross_attention = add_cross_attention
        super().__init__(
            pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id,
            is_decoder=is_decoder, tie_word_embeddings=tie_word_embeddings, **kwargs,
        )


# --------------------------------------------------------------------------- embeddings


def create_position_ids_from_input_ids(input_ids: torch.Tensor, padding_idx: int) -> torch.Tensor:
    """Positions counted over the real tokens only, starting at ``padding_idx + 1``; pads get ``padding_idx``.

    With padding_idx = 1:  ``<pad> <pad> <s> Hi </s>`` -> ``1 1 2 3 4``  (left padding shifts nothing)
                           ``<s> Hi </s> <pad>``       -> ``2 3 4 1``
    """
    real = input_ids.ne(padding_idx).long()  # (b, s): 1 for a real token, 0 for a pad
    counted = torch.cumsum(real, dim=1) * real  # (b, s): 1, 2, 3 ... at real tokens, 0 at pads
    return counted + padding_idx  # (b, s)


class RobertaEmbeddings(nn.Module):
    """BERT's embeddings, but position ids are computed from the input's padding (see the module docstring).

    Given ``inputs_embeds`` there is no way to see the padding, so positions are simply
    ``padding_idx + 1 ... padding_idx + s``, as in transformers.
    """

    def __init__(self, config: RobertaConfig):
        super().__init__()
        self.padding_idx = config.pad_token_id
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(
            config.max_position_embeddings, config.hidden_size, padding_idx=config.pad_token_id
        )
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

        self.hook_embed = HookPoint("embed")  # (b, s, d) word embeddings
        self.hook_pos_embed = HookPoint("pos_embed")  # (b, s, d) offset position embeddings
        self.hook_token_type_embed = HookPoint()  # (b, s, d) segment embeddings (one type in real checkpoints)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if position_ids is None:
            if input_ids is not None:
                position_ids = create_position_ids_from_input_ids(input_ids, self.padding_idx)  # (b, s)
            else:
                seq = inputs_embeds.shape[1]
                start = self.padding_idx + 1
                position_ids = torch.arange(start, start + seq, device=inputs_embeds.device)[None]  # (1, s)
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)  # (b, s, d)
        batch, seq, _ = inputs_embeds.shape
        if token_type_ids is None:
            token_type_ids = torch.zeros(batch, seq, dtype=torch.long, device=inputs_embeds.device)  # (b, s)

        words = self.hook_embed(inputs_embeds)  # (b, s, d)
        positions = self.hook_pos_embed(self.position_embeddings(position_ids))  # (b|1, s, d)
        segments = self.hook_token_type_embed(self.token_type_embeddings(token_type_ids))  # (b, s, d)
        embeddings = self.LayerNorm(words + segments + positions)  # (b, s, d)
        return self.dropout(embeddings)


# --------------------------------------------------------------------------- one layer (BERT's, copied)


# Copied from hfexplain.models.bert.BertSelfAttention with Bert->Roberta
class RobertaSelfAttention(nn.Module):
    """Bidirectional multi-head self-attention with separate ``query``, ``key``, ``value`` projections."""

    def __init__(self, config: RobertaConfig, layer_idx: int | None = None):
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.scaling = self.attention_head_size**-0.5  # divide scores by sqrt(e)

        self.query = nn.Linear(config.hidden_size, self.all_head_size)
        self.key = nn.Linear(config.hidden_size, self.all_head_size)
        self.value = nn.Linear(config.hidden_size, self.all_head_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

        self.hook_q = HookPoint("q", layer_idx)  # (b, h, s, e)
        self.hook_k = HookPoint("k", layer_idx)  # (b, h, s, e)
        self.hook_v = HookPoint("v", layer_idx)  # (b, h, s, e)
        self.hook_scores = HookPoint("scores", layer_idx)  # (b, h, s, s)
        self.hook_pattern = HookPoint("pattern", layer_idx)  # (b, h, s, s)
        self.hook_z = HookPoint("z", layer_idx)  # (b, h, s, e)

    # Copied from hfexplain.models.gpt2.GPT2Attention._split_heads with num_heads->num_attention_heads, head_dim->attention_head_size
    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        x = x.view(batch, seq, self.num_attention_heads, self.attention_head_size)  # (b, s, h, e)
        return x.transpose(1, 2)  # (b, h, s, e)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``attention_mask``: the additive (b|1, 1, 1|s, s) mask from ``build_attention_mask`` or None."""
        batch, seq, _ = hidden_states.shape  # (b, s, d)
        query = self.hook_q(self._split_heads(self.query(hidden_states)))  # (b, h, s, e)
        key = self.hook_k(self._split_heads(self.key(hidden_states)))  # (b, h, s, e)
        value = self.hook_v(self._split_heads(self.value(hidden_states)))  # (b, h, s, e)

        z, pattern = attend(
            query,
            key,
            value,
            attention_mask,
            scale=self.scaling,
            dropout=self.dropout.p if self.training else 0.0,
            hook_scores=self.hook_scores,
            hook_pattern=self.hook_pattern,
            need_weights=output_attentions,
        )  # z: (b, h, s, e), pattern: (b, h, s, s) or None
        z = self.hook_z(z)
        merged = z.transpose(1, 2).reshape(batch, seq, self.all_head_size)  # (b, s, d)
        return merged, pattern


# Copied from hfexplain.models.bert.BertSelfOutput with Bert->Roberta
class RobertaSelfOutput(nn.Module):
    """Attention's output projection, then the post-norm step: LayerNorm(x + dropout(dense(z)))."""

    def __init__(self, config: RobertaConfig, layer_idx: int | None = None):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.hook_attn_out = HookPoint("attn_out", layer_idx)  # (b, s, d): what attention adds to the stream

    def forward(self, hidden_states: torch.Tensor, input_tensor: torch.Tensor) -> torch.Tensor:
        attn_out = self.hook_attn_out(self.dropout(self.dense(hidden_states)))  # (b, s, d)
        return self.LayerNorm(attn_out + input_tensor)  # (b, s, d)


# Copied from hfexplain.models.bert.BertAttention with Bert->Roberta
class RobertaAttention(nn.Module):
    """Self-attention (``self``) followed by its projection, residual and LayerNorm (``output``)."""

    def __init__(self, config: RobertaConfig, layer_idx: int | None = None):
        super().__init__()
        self.self = RobertaSelfAttention(config, layer_idx)
        self.output = RobertaSelfOutput(config, layer_idx)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        merged, pattern = self.self(hidden_states, attention_mask, output_attentions)  # (b, s, d)
        return self.output(merged, hidden_states), pattern


# Copied from hfexplain.models.bert.BertIntermediate with Bert->Roberta
class RobertaIntermediate(nn.Module):
    """The MLP's first half: d -> m, then the activation (``config.hidden_act``)."""

    def __init__(self, config: RobertaConfig, layer_idx: int | None = None):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = get_activation(config.hidden_act)
        self.hook_pre = HookPoint("mlp_pre", layer_idx)  # (b, s, m)
        self.hook_post = HookPoint("mlp_post", layer_idx)  # (b, s, m)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        pre = self.hook_pre(self.dense(hidden_states))  # (b, s, m)
        return self.hook_post(self.intermediate_act_fn(pre))  # (b, s, m)


# Copied from hfexplain.models.bert.BertOutput with Bert->Roberta
class RobertaOutput(nn.Module):
    """The MLP's second half: m -> d, then the post-norm step LayerNorm(x + dropout(dense(.)))."""

    def __init__(self, config: RobertaConfig, layer_idx: int | None = None):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx)  # (b, s, d): what the MLP adds to the stream

    def forward(self, hidden_states: torch.Tensor, input_tensor: torch.Tensor) -> torch.Tensor:
        mlp_out = self.hook_mlp_out(self.dropout(self.dense(hidden_states)))  # (b, s, d)
        return self.LayerNorm(mlp_out + input_tensor)  # (b, s, d)


# Copied from hfexplain.models.bert.BertLayer with Bert->Roberta
class RobertaLayer(nn.Module):
    """One post-norm encoder layer: x = LN(x + attn(x)); x = LN(x + mlp(x))."""

    def __init__(self, config: RobertaConfig, layer_idx: int | None = None):
        super().__init__()
        self.attention = RobertaAttention(config, layer_idx)
        self.intermediate = RobertaIntermediate(config, layer_idx)
        self.output = RobertaOutput(config, layer_idx)
        self.hook_resid_pre = HookPoint("resid_pre", layer_idx)  # (b, s, d)
        self.hook_resid_mid = HookPoint("resid_mid", layer_idx)  # (b, s, d), already normalised
        self.hook_resid_post = HookPoint("resid_post", layer_idx)  # (b, s, d)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        resid = self.hook_resid_pre(hidden_states)  # (b, s, d)
        attention_output, pattern = self.attention(resid, attention_mask, output_attentions)
        resid = self.hook_resid_mid(attention_output)  # (b, s, d)
        layer_output = self.output(self.intermediate(resid), resid)  # (b, s, d)
        return self.hook_resid_post(layer_output), pattern


# Copied from hfexplain.models.bert.BertEncoder with Bert->Roberta
class RobertaEncoder(nn.Module):
    """The stack of ``num_hidden_layers`` layers (``layer.0`` ... ``layer.N-1``)."""

    def __init__(self, config: RobertaConfig):
        super().__init__()
        self.layer = nn.ModuleList([RobertaLayer(config, layer_idx=i) for i in range(config.num_hidden_layers)])

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> tuple[torch.Tensor, tuple | None, tuple | None]:
        """Returns ``(last_hidden_state, hidden_states, attentions)``; the tuples are None
        unless asked for. ``hidden_states`` has N + 1 entries: the embeddings, then each
        layer's output, as in transformers."""
        all_hidden = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layer:
            hidden_states, pattern = layer(hidden_states, attention_mask, output_attentions)  # (b, s, d)
            if output_hidden_states:
                all_hidden += (hidden_states,)
            if output_attentions:
                all_attentions += (pattern,)
        return hidden_states, all_hidden, all_attentions


class RobertaPooler(nn.Module):
    """The first (``<s>``) token's vector through dense + tanh, as BERT's pooler.

    RoBERTa dropped next-sentence prediction, so nothing trained this layer in pre-training;
    the checkpoints keep it for compatibility, and RoBERTa's sequence classifier does not read it.
    """

    def __init__(self, config: RobertaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()
        self.hook_pooled = HookPoint()  # (b, d)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        first_token = hidden_states[:, 0]  # (b, d)
        return self.hook_pooled(self.activation(self.dense(first_token)))  # (b, d)


# --------------------------------------------------------------------------- models


class RobertaPreTrainedModel(PreTrainedModel):
    config_class = RobertaConfig
    base_model_prefix = "roberta"
    _residual_stream_is_a_sum = False  # post-norm: each block normalises x + sublayer(x)
    # Checkpoints written by older transformers kept the position ids as a buffer; we make them on the fly.
    _keys_to_ignore_on_load_unexpected = [r"embeddings\.position_ids$", r"embeddings\.token_type_ids$"]
    # Task checkpoints have no pooler (the heads are built without one).
    _keys_optional_in_checkpoint = [r"(^|\.)pooler\.dense\.(weight|bias)$"]

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, RobertaLMHead):
            nn.init.zeros_(module.bias)


class RobertaModel(RobertaPreTrainedModel):
    """The bare RoBERTa encoder: token ids -> ``last_hidden_state`` (b, s, d) and ``pooler_output`` (b, d)."""

    def __init__(self, config: RobertaConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = RobertaEmbeddings(config)
        self.encoder = RobertaEncoder(config)
        self.pooler = RobertaPooler(config) if add_pooling_layer else None
        self.hook_final = HookPoint("final")  # (b, s, d)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling:
        """``attention_mask`` (b, s): 1 for real tokens, 0 for padding. ``position_ids`` (b, s)
        default to the offset count of ``create_position_ids_from_input_ids``."""
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        if position_ids is None:  # positions pad+1 .. pad+s are read: s may be at most max - pad - 1
            max_positions = config.max_position_embeddings - config.pad_token_id - 1
            positions_field = "max_position_embeddings - pad_token_id - 1"
        else:
            max_positions, positions_field = config.max_position_embeddings, "max_position_embeddings"
        check_model_inputs(
            input_ids, inputs_embeds, vocab_size=config.vocab_size, hidden_size=config.hidden_size,
            position_ids=position_ids, max_positions=max_positions, positions_field=positions_field,
            family="RoBERTa",
        )
        batch, seq = input_ids.shape if input_ids is not None else inputs_embeds.shape[:2]
        if token_type_ids is not None and token_type_ids.numel():
            low, high = int(token_type_ids.min()), int(token_type_ids.max())
            if low < 0 or high >= config.type_vocab_size:
                raise ValueError(
                    f"token_type_ids hold values in [{low}, {high}] but this model has type_vocab_size="
                    f"{config.type_vocab_size} (ids 0..{config.type_vocab_size - 1}); RoBERTa's tokenizer returns "
                    "no token_type_ids: leave them out (all zeros)."
                )

        hidden = self.embeddings(
            input_ids=input_ids, token_type_ids=token_type_ids, position_ids=position_ids, inputs_embeds=inputs_embeds
        )  # (b, s, d)
        # Bidirectional: no causal mask, only padding keys are hidden. (b, 1, 1, s) or None.
        mask = build_attention_mask(attention_mask, seq, seq, causal=False, dtype=hidden.dtype, device=hidden.device)
        hidden, all_hidden, all_attentions = self.encoder(hidden, mask, output_attentions, output_hidden_states)
        hidden = self.hook_final(hidden)  # (b, s, d)
        if output_hidden_states:
            all_hidden = all_hidden[:-1] + (hidden,)  # the last entry is last_hidden_state, as in transformers
        pooled = self.pooler(hidden) if self.pooler is not None else None  # (b, d)
        return BaseModelOutputWithPooling(
            last_hidden_state=hidden,
            pooler_output=pooled,
            hidden_states=all_hidden,
            attentions=all_attentions,
        )


class RobertaLMHead(nn.Module):
    """Hidden state -> a score for every vocabulary word: dense -> GELU -> ``layer_norm`` -> ``decoder``.

    BERT's head in one module (BERT splits it into ``cls.predictions.transform`` and ``decoder``),
    with the exact GELU whatever ``hidden_act`` says. ``decoder.weight`` *is* the word-embedding
    matrix and ``decoder.bias`` *is* ``bias`` (tied; checkpoints store ``lm_head.bias``).
    """

    def __init__(self, config: RobertaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = get_activation("gelu")
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.layer_norm(self.activation(self.dense(features)))  # (b, s, d)
        return self.decoder(x)  # (b, s, v)


class RobertaForMaskedLM(RobertaPreTrainedModel):
    """RoBERTa's pre-training task: predict the words hidden behind ``<mask>`` from both sides."""

    _tied_weights_keys = {
        "lm_head.decoder.weight": "roberta.embeddings.word_embeddings.weight",
        "lm_head.decoder.bias": "lm_head.bias",
    }

    def __init__(self, config: RobertaConfig):
        super().__init__(config)
        self.roberta = RobertaModel(config, add_pooling_layer=False)
        self.lm_head = RobertaLMHead(config)
        self.hook_logits = HookPoint("logits")  # (b, s, v)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.lm_head.decoder = new_embeddings
        self.lm_head.bias = new_embeddings.bias

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> MaskedLMOutput:
        """``labels`` (b, s): the original id at masked positions, -100 everywhere else."""
        outputs = self.roberta(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.hook_logits(self.lm_head(outputs.last_hidden_state))  # (b, s, v)
        loss = masked_lm_loss(logits, labels) if labels is not None else None
        return MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class RobertaClassificationHead(nn.Module):
    """The ``<s>`` token's vector -> dropout -> dense -> tanh -> dropout -> ``out_proj`` (d -> c).

    A pooler trained with the task (BERT reads its pre-trained pooler, then one linear layer).
    """

    def __init__(self, config: RobertaConfig):
        super().__init__()
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.dropout(features[:, 0])  # (b, d): the <s> token
        x = self.dropout(torch.tanh(self.dense(x)))  # (b, d)
        return self.out_proj(x)  # (b, c)


class RobertaForSequenceClassification(RobertaPreTrainedModel):
    """One score per label for the whole text, from ``classifier`` (a RobertaClassificationHead) on ``<s>``."""

    def __init__(self, config: RobertaConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.roberta = RobertaModel(config, add_pooling_layer=False)
        self.classifier = RobertaClassificationHead(config)
        self.hook_class_logits = HookPoint("class_logits")  # (b, c)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> SequenceClassifierOutput:
        """``labels`` (b,): class ids (cross-entropy), floats with num_labels == 1 (regression),
        or (b, num_labels) floats (multi-label); see ``config.problem_type``."""
        outputs = self.roberta(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.hook_class_logits(self.classifier(outputs.last_hidden_state))  # (b, c)
        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


# Token classification and extractive QA are the generic heads, as BERT's (no pooler).


class RobertaForTokenClassification(GenericForTokenClassification, RobertaPreTrainedModel):
    """A linear ``classifier`` on every token (named entities, part-of-speech tags)."""

    base_model_class = RobertaModel
    base_model_kwargs = {"add_pooling_layer": False}
    classifier_name = "classifier"


class RobertaForQuestionAnswering(GenericForQuestionAnswering, RobertaPreTrainedModel):
    """Extractive question answering: answer start and end scores per token (``qa_outputs``: d -> 2)."""

    base_model_class = RobertaModel
    base_model_kwargs = {"add_pooling_layer": False}


__all__ = [
    "RobertaConfig",
    "RobertaPreTrainedModel",
    "RobertaModel",
    "RobertaForMaskedLM",
    "RobertaForSequenceClassification",
    "RobertaForTokenClassification",
    "RobertaForQuestionAnswering",
]
