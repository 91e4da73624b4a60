"""BERT (Devlin et al., 2018), with Hugging Face's module tree and parameter names.

    tokens ─► word + position + token-type embeddings ─► LayerNorm ─► dropout
           ─► [ layer × num_hidden_layers ] ─► last_hidden_state ─► task head
                                                     └─► pooler (first token, dense, tanh)

    layer:  x ─► attention ─► (+x) ─► LayerNorm ─► intermediate (dense, act) ─► output dense ─► (+) ─► LayerNorm ─►
            (post-norm: each sub-layer reads the residual stream as it is, and the
             stream is normalised *after* the sub-layer's output is added back. GPT-2
             and LLaMA do it the other way round, "pre-norm".)

BERT reads the whole sentence at once: every token attends to every other token (no
causal mask); only padding positions are hidden from the keys. That is why it is an
*encoder*: good at understanding text (classification, tagging, extractive question
answering, sentence embeddings), not at generating it.

Shapes: b=batch, s=sequence, d=hidden_size, h=num_attention_heads, e=d/h (head dim),
m=intermediate_size, v=vocab_size, t=type_vocab_size.

Hook points (aliases of the shared vocabulary in brackets), per layer i under
``bert.encoder.layer.i``::

    hook_resid_pre [resid_pre]                          layer input (the embeddings for layer 0)
    attention.self.hook_q/k/v [q, k, v]                 (b, h, s, e)
    attention.self.hook_scores/pattern [scores, pattern] (b, h, s, s)
    attention.self.hook_z [z]                           (b, h, s, e)
    attention.output.hook_attn_out [attn_out]           output projection, before residual + LayerNorm
    hook_resid_mid [resid_mid]                          after the attention LayerNorm
    intermediate.hook_pre/hook_post [mlp_pre, mlp_post] (b, s, m)
    output.hook_mlp_out [mlp_out]                       MLP output, before residual + LayerNorm
    hook_resid_post [resid_post]                        layer output (after the MLP LayerNorm)

Because BERT is post-norm, ``resid_post`` of layer i is exactly ``hidden_states[i + 1]``
and ``resid_mid`` is already normalised (unlike GPT-2's un-normalised residual stream).
"""
from __future__ import annotations

import torch
from torch import nn

from ..configuration import PretrainedConfig, check_divisible
from ..heads import (
    GenericForQuestionAnswering,
    GenericForSequenceClassification,
    GenericForTokenClassification,
    check_model_inputs,
    masked_lm_loss,
)
from ..hooks import HookPoint
from ..layers import attend, build_attention_mask, get_activation
from ..modeling import PreTrainedModel
from ..outputs import BaseModelOutputWithPooling, MaskedLMOutput


class BertConfig(PretrainedConfig):
    """BERT's hyper-parameters, with the names and defaults of transformers' ``BertConfig``
    (the defaults describe bert-base-uncased)."""

    model_type = "bert"

    def __init__(
        self,
        vocab_size: int = 30522,
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
        pad_token_id: int | None = 0,
        use_cache: bool = True,
        classifier_dropout: float | None = None,
        is_decoder: bool = False,
        add_cross_attention: bool = False,
        position_embedding_type: str = "absolute",
        **kwargs,
    ):
        if position_embedding_type != "absolute":
            raise NotImplementedError(
                f"position_embedding_type={position_embedding_type!r} is not supported: hfexplain's BERT "
                "(like transformers 5) has only learned absolute positions. Use a checkpoint whose config "
                "says position_embedding_type='absolute'."
            )
        if is_decoder or add_cross_attention:
            raise NotImplementedError(
                "hfexplain's BERT is an encoder only: is_decoder=True / add_cross_attention=True (BertLMHeadModel, "
                "encoder-decoder BERT) are not supported. Set both to False, or use a decoder family such as GPT-2."
            )
        if not isinstance(hidden_act, str):
            raise TypeError(
                f"hidden_act must be an activation name such as 'gelu', got {type(hidden_act).__name__}; "
                "configs are plain data, so pass the name."
            )
        check_divisible("hidden_size", hidden_size, "num_attention_heads", num_attention_heads,
                        "each head gets hidden_size / num_attention_heads dimensions.")
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
        self.position_embedding_type = position_embedding_type
        super().__init__(pad_token_id=pad_token_id, is_decoder=is_decoder, **kwargs)


# --------------------------------------------------------------------------- embeddings


class BertEmbeddings(nn.Module):
    """Token ids -> vectors: word + position + token-type (segment) embeddings, then LayerNorm.

    ``token_type_ids`` tell sentence A (0) from sentence B (1) in a pair such as
    question/context; they default to all zeros. ``position_ids`` default to 0..s-1.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

        self.hook_embed = HookPoint("embed")  # (b, s, d) word embeddings
        self.hook_pos_embed = HookPoint("pos_embed")  # (b|1, s, d)
        self.hook_token_type_embed = HookPoint()  # (b, s, d) segment embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)  # (b, s, d)
        batch, seq, _ = inputs_embeds.shape
        device = inputs_embeds.device
        if position_ids is None:
            position_ids = torch.arange(seq, device=device)[None]  # (1, s)
        if token_type_ids is None:
            token_type_ids = torch.zeros(batch, seq, dtype=torch.long, device=device)  # (b, s): all sentence A

        words = self.hook_embed(inputs_embeds)  # (b, s, d)
        positions = self.hook_pos_embed(self.position_embeddings(position_ids))  # (b|1, s, d)
        segments = self.hook_token_type_embed(self.token_type_embeddings(token_type_ids))  # (b, s, d)
        embeddings = self.LayerNorm(words + segments + positions)  # (b, s, d)
        return self.dropout(embeddings)


# --------------------------------------------------------------------------- one layer


class BertSelfAttention(nn.Module):
    """Bidirectional multi-head self-attention with separate ``query``, ``key``, ``value`` projections."""

    def __init__(self, config: BertConfig, layer_idx: int | None = None):
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


class BertSelfOutput(nn.Module):
    """Attention's output projection, then the post-norm step: LayerNorm(x + dropout(dense(z)))."""

    def __init__(self, config: BertConfig, layer_idx: int | None = None):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.hook_attn_out = HookPoint("attn_out", layer_idx)  # (b, s, d): what attention adds to the stream

    def forward(self, hidden_states: torch.Tensor, input_tensor: torch.Tensor) -> torch.Tensor:
        attn_out = self.hook_attn_out(self.dropout(self.dense(hidden_states)))  # (b, s, d)
        return self.LayerNorm(attn_out + input_tensor)  # (b, s, d)


class BertAttention(nn.Module):
    """Self-attention (``self``) followed by its projection, residual and LayerNorm (``output``)."""

    def __init__(self, config: BertConfig, layer_idx: int | None = None):
        super().__init__()
        self.self = BertSelfAttention(config, layer_idx)
        self.output = BertSelfOutput(config, layer_idx)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        merged, pattern = self.self(hidden_states, attention_mask, output_attentions)  # (b, s, d)
        return self.output(merged, hidden_states), pattern


class BertIntermediate(nn.Module):
    """The MLP's first half: d -> m, then the activation (``config.hidden_act``)."""

    def __init__(self, config: BertConfig, layer_idx: int | None = None):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = get_activation(config.hidden_act)
        self.hook_pre = HookPoint("mlp_pre", layer_idx)  # (b, s, m)
        self.hook_post = HookPoint("mlp_post", layer_idx)  # (b, s, m)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        pre = self.hook_pre(self.dense(hidden_states))  # (b, s, m)
        return self.hook_post(self.intermediate_act_fn(pre))  # (b, s, m)


class BertOutput(nn.Module):
    """The MLP's second half: m -> d, then the post-norm step LayerNorm(x + dropout(dense(.)))."""

    def __init__(self, config: BertConfig, layer_idx: int | None = None):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx)  # (b, s, d): what the MLP adds to the stream

    def forward(self, hidden_states: torch.Tensor, input_tensor: torch.Tensor) -> torch.Tensor:
        mlp_out = self.hook_mlp_out(self.dropout(self.dense(hidden_states)))  # (b, s, d)
        return self.LayerNorm(mlp_out + input_tensor)  # (b, s, d)


class BertLayer(nn.Module):
    """One post-norm encoder layer: x = LN(x + attn(x)); x = LN(x + mlp(x))."""

    def __init__(self, config: BertConfig, layer_idx: int | None = None):
        super().__init__()
        self.attention = BertAttention(config, layer_idx)
        self.intermediate = BertIntermediate(config, layer_idx)
        self.output = BertOutput(config, layer_idx)
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


class BertEncoder(nn.Module):
    """The stack of ``num_hidden_layers`` layers (``layer.0`` ... ``layer.N-1``)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config, layer_idx=i) for i in range(config.num_hidden_layers)])

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


class BertPooler(nn.Module):
    """A sentence summary: the first ([CLS]) token's vector through dense + tanh.

    Trained by BERT's next-sentence objective; sequence classifiers read it.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()
        self.hook_pooled = HookPoint()  # (b, d)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        first_token = hidden_states[:, 0]  # (b, d)
        return self.hook_pooled(self.activation(self.dense(first_token)))  # (b, d)


# --------------------------------------------------------------------------- models


class BertPreTrainedModel(PreTrainedModel):
    config_class = BertConfig
    base_model_prefix = "bert"
    _residual_stream_is_a_sum = False  # post-norm: each block normalises x + sublayer(x)
    # Checkpoints written by older transformers kept the position ids as a buffer; we make them on the fly.
    _keys_to_ignore_on_load_unexpected = [r"embeddings\.position_ids$", r"embeddings\.token_type_ids$"]
    # A masked-LM checkpoint has no pooler (BertForMaskedLM is built without one).
    _keys_optional_in_checkpoint = [r"(^|\.)pooler\.dense\.(weight|bias)$"]

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, BertLMPredictionHead):
            nn.init.zeros_(module.bias)


class BertModel(BertPreTrainedModel):
    """The bare BERT encoder: token ids -> ``last_hidden_state`` (b, s, d) and ``pooler_output`` (b, d)."""

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
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
        """``attention_mask`` (b, s): 1 for real tokens, 0 for padding (keys to ignore).
        ``token_type_ids`` (b, s): 0 for sentence A, 1 for sentence B (default: all 0)."""
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        batch, seq = check_model_inputs(
            input_ids, inputs_embeds, vocab_size=config.vocab_size, hidden_size=config.hidden_size,
            position_ids=position_ids, max_positions=config.max_position_embeddings, family="BERT",
        )
        if token_type_ids is not None and token_type_ids.numel():
            low, high = int(token_type_ids.min()), int(token_type_ids.max())
            if low < 0 or high >= config.type_vocab_size:
                raise ValueError(
                    f"token_type_ids hold values in [{low}, {high}] but this model has type_vocab_size="
                    f"{config.type_vocab_size} (ids 0..{config.type_vocab_size - 1}); use a tokenizer made for "
                    "this checkpoint, or leave token_type_ids out (all zeros)."
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


class BertPredictionHeadTransform(nn.Module):
    """dense -> activation -> LayerNorm, before the vocabulary projection."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform_act_fn = get_activation(config.hidden_act)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.transform_act_fn(self.dense(hidden_states)))  # (b, s, d)


class BertLMPredictionHead(nn.Module):
    """Hidden state -> a score for every vocabulary word.

    ``decoder.weight`` *is* the word-embedding matrix (tied), and ``decoder.bias`` *is*
    ``bias``: checkpoints store only ``cls.predictions.bias``, as transformers 5 saves them.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=True)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(hidden_states))  # (b, s, v)


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.predictions = BertLMPredictionHead(config)

    def forward(self, sequence_output: torch.Tensor) -> torch.Tensor:
        return self.predictions(sequence_output)  # (b, s, v)


class BertForMaskedLM(BertPreTrainedModel):
    """BERT's pre-training task: predict the words hidden behind [MASK] from both sides."""

    _tied_weights_keys = {
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    }

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)
        self.hook_logits = HookPoint("logits")  # (b, s, v)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.cls.predictions.decoder = new_embeddings
        self.cls.predictions.bias = new_embeddings.bias

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
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.hook_logits(self.cls(outputs.last_hidden_state))  # (b, s, v)
        loss = masked_lm_loss(logits, labels) if labels is not None else None
        return MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


# The task heads are hfexplain.heads' generic ones; BERT picks the [CLS] pooler, HF's
# ``classifier`` name and a dropout (``classifier_dropout``, else ``hidden_dropout_prob``).


class BertForSequenceClassification(GenericForSequenceClassification, BertPreTrainedModel):
    """A linear ``classifier`` on the pooled [CLS] vector: one score per label for the whole text."""

    base_model_class = BertModel
    pooling = "pooler"
    classifier_name = "classifier"
    classifier_bias = True
    classifier_dropout = True


class BertForTokenClassification(GenericForTokenClassification, BertPreTrainedModel):
    """A linear ``classifier`` on every token (named entities, part-of-speech tags)."""

    base_model_class = BertModel
    base_model_kwargs = {"add_pooling_layer": False}
    classifier_name = "classifier"


class BertForQuestionAnswering(GenericForQuestionAnswering, BertPreTrainedModel):
    """Extractive question answering: for each token, a score for "the answer starts here"
    and one for "the answer ends here" (``qa_outputs``: d -> 2)."""

    base_model_class = BertModel
    base_model_kwargs = {"add_pooling_layer": False}


__all__ = [
    "BertConfig",
    "BertPreTrainedModel",
    "BertModel",
    "BertForMaskedLM",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertForQuestionAnswering",
]
