"""ALBERT (Lan et al., 2019), "A Lite BERT", with Hugging Face's module tree and parameter names.

What changed since BERT
-----------------------
ALBERT is BERT's post-norm encoder with two ways of spending fewer parameters:

1. **Factorised embeddings.** The vocabulary table is narrow (``embedding_size``, E = 128 in the
   released models) and one linear map, ``encoder.embedding_hidden_mapping_in``, widens every
   token to ``hidden_size`` (d) before the first layer. A 30,000 x 128 table plus a 128 x d map
   is much smaller than a 30,000 x d table. The MLM head goes back the same way: d -> E
   (``predictions.dense``), then E -> vocabulary with the (tied) embedding matrix.

2. **Shared layers.** There are only ``num_hidden_groups`` sets of layer weights
   (``encoder.albert_layer_groups.g``; 1 in the released models) and the encoder applies them
   ``num_hidden_layers`` times: application i uses group ``i // (num_hidden_layers //
   num_hidden_groups)``. So ``num_hidden_groups`` must divide ``num_hidden_layers`` (the config
   says so before any weight is built). A group holds ``inner_group_num`` layers run in a row.

The layer itself is BERT's layer with other names: the attention's output projection and its
LayerNorm sit inside ``attention`` (``dense``, ``LayerNorm``), the MLP is ``ffn`` -> activation ->
``ffn_output``, its LayerNorm is ``full_layer_layer_norm`` (and, as in transformers, no dropout after
the MLP). The pooler is a plain ``pooler`` Linear + tanh on the bare model (``albert.pooler``).

    tokens ─► word + position + token-type embeddings (E) ─► LayerNorm ─► dropout
           ─► embedding_hidden_mapping_in (E -> d)
           ─► [ group[i // (N / G)] for i in 0..N-1 ] ─► last_hidden_state ─► task head
                                                            └─► pooler (first token, Linear, tanh)

Hook points of a shared layer
-----------------------------
A hook point is a module, named by its path; a layer whose weights run twelve times would have
one name for twelve different tensors. So the per-layer hook points do not live in the shared
layer: they live in ``encoder.layer_hooks.i`` (no parameters, one per *application*), and the
shared layer is handed the hooks of the application it is running. ``cache["pattern", 7]`` is
then the pattern of the 8th application, exactly ``output_attentions[7]``, even though it came
from the same weights as layer 0. With ``inner_group_num`` > 1 each inner layer counts as one
layer (as transformers counts ``hidden_states``): index ``i * inner_group_num + j``.

Per layer i, under ``albert.encoder.layer_hooks.i`` (aliases in brackets)::

    hook_resid_pre [resid_pre]                       layer input (the widened embeddings for layer 0)
    hook_q/k/v [q, k, v]                             (b, h, s, e)
    hook_scores/pattern [scores, pattern]            (b, h, s, s)
    hook_z [z]                                       (b, h, s, e)
    hook_attn_out [attn_out]                         output projection, before residual + LayerNorm
    hook_resid_mid [resid_mid]                       after the attention LayerNorm
    hook_mlp_pre/hook_mlp_post [mlp_pre, mlp_post]   (b, s, m)
    hook_mlp_out [mlp_out]                           MLP output, before residual + LayerNorm
    hook_resid_post [resid_post]                     layer output (after full_layer_layer_norm)

Shapes: b=batch, s=sequence, E=embedding_size, d=hidden_size, h=num_attention_heads,
e=d/h (head dim), m=intermediate_size, v=vocab_size.
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


class AlbertConfig(PretrainedConfig):
    """ALBERT's hyper-parameters, with the names and defaults of transformers' ``AlbertConfig``
    (the defaults describe albert-xxlarge)."""

    model_type = "albert"

    def __init__(
        self,
        vocab_size: int = 30000,
        embedding_size: int = 128,
        hidden_size: int = 4096,
        num_hidden_layers: int = 12,
        num_hidden_groups: int = 1,
        num_attention_heads: int = 64,
        intermediate_size: int = 16384,
        inner_group_num: int = 1,
        hidden_act: str = "gelu_new",
        hidden_dropout_prob: float = 0.0,
        attention_probs_dropout_prob: float = 0.0,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        classifier_dropout_prob: float = 0.1,
        pad_token_id: int | None = 0,
        bos_token_id: int | None = 2,
        eos_token_id: int | None = 3,
        tie_word_embeddings: bool = True,
        **kwargs,
    ):
        if not isinstance(hidden_act, str):
            raise TypeError(
                f"hidden_act must be an activation name such as 'gelu_new', got {type(hidden_act).__name__}; "
                "configs are plain data, so pass the name."
            )
        check_divisible("hidden_size", hidden_size, "num_attention_heads", num_attention_heads,
                        "each head gets hidden_size / num_attention_heads dimensions.")
        if num_hidden_groups < 1 or num_hidden_layers % num_hidden_groups:
            raise ValueError(
                f"num_hidden_groups ({num_hidden_groups}) must divide num_hidden_layers ({num_hidden_layers}): "
                "ALBERT applies each group of shared layer weights num_hidden_layers / num_hidden_groups times in "
                "a row. Pick num_hidden_groups among the divisors of num_hidden_layers (1 shares one layer "
                "across all of them, as the released checkpoints do)."
            )
        if inner_group_num < 1:
            raise ValueError(f"inner_group_num must be at least 1 (layers per group), got {inner_group_num}.")
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_hidden_groups = num_hidden_groups
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.inner_group_num = inner_group_num
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.classifier_dropout_prob = classifier_dropout_prob
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id,
                         tie_word_embeddings=tie_word_embeddings, **kwargs)


# --------------------------------------------------------------------------- embeddings


# BERT's embeddings at the narrow width: in this copy's shape comments, d is embedding_size (E).
# Copied from hfexplain.models.bert.BertEmbeddings with Bert->Albert, hidden_size->embedding_size
class AlbertEmbeddings(nn.Module):
    """Token ids -> vectors: word + position + token-type (segment) embeddings, then LayerNorm.

    ``token_type_ids`` tell sentence A (0) from sentence B (1) in a pair such as
    question/context; they default to all zeros. ``position_ids`` default to 0..s-1.
    """

    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.embedding_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.embedding_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.embedding_size)
        self.LayerNorm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)
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


# --------------------------------------------------------------------------- one (shared) layer


class AlbertLayerHooks(nn.Module):
    """The hook points of one layer *application* (no parameters).

    The shared ``AlbertLayer`` runs many times; each run reports through the hooks of the
    application it is, so every tensor is named by the layer index it belongs to.
    """

    def __init__(self, layer_idx: int):
        super().__init__()
        self.hook_resid_pre = HookPoint("resid_pre", layer_idx)  # (b, s, d)
        self.hook_q = HookPoint("q", layer_idx)  # (b, h, s, e)
        self.hook_k = HookPoint("k", layer_idx)  # (b, h, s, e)
        self.hook_v = HookPoint("v", layer_idx)  # (b, h, s, e)
        self.hook_scores = HookPoint("scores", layer_idx)  # (b, h, s, s)
        self.hook_pattern = HookPoint("pattern", layer_idx)  # (b, h, s, s)
        self.hook_z = HookPoint("z", layer_idx)  # (b, h, s, e)
        self.hook_attn_out = HookPoint("attn_out", layer_idx)  # (b, s, d): before residual + LayerNorm
        self.hook_resid_mid = HookPoint("resid_mid", layer_idx)  # (b, s, d), already normalised
        self.hook_mlp_pre = HookPoint("mlp_pre", layer_idx)  # (b, s, m)
        self.hook_mlp_post = HookPoint("mlp_post", layer_idx)  # (b, s, m)
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx)  # (b, s, d): before residual + LayerNorm
        self.hook_resid_post = HookPoint("resid_post", layer_idx)  # (b, s, d)


class AlbertAttention(nn.Module):
    """Bidirectional self-attention plus its output projection, residual and LayerNorm:
    LN(x + dropout(dense(attend(q, k, v)))). (BERT splits this into ``self`` and ``output``.)"""

    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.scaling = self.attention_head_size**-0.5  # divide scores by sqrt(e)

        self.query = nn.Linear(config.hidden_size, self.all_head_size)
        self.key = nn.Linear(config.hidden_size, self.all_head_size)
        self.value = nn.Linear(config.hidden_size, self.all_head_size)
        self.attention_dropout = nn.Dropout(config.attention_probs_dropout_prob)
        self.output_dropout = nn.Dropout(config.hidden_dropout_prob)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    # Copied from hfexplain.models.bert.BertSelfAttention._split_heads
    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        x = x.view(batch, seq, self.num_attention_heads, self.attention_head_size)  # (b, s, h, e)
        return x.transpose(1, 2)  # (b, h, s, e)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None,
        hooks: AlbertLayerHooks,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``attention_mask``: the additive (b|1, 1, 1|s, s) mask or None; ``hooks``: this application's."""
        batch, seq, _ = hidden_states.shape  # (b, s, d)
        query = hooks.hook_q(self._split_heads(self.query(hidden_states)))  # (b, h, s, e)
        key = hooks.hook_k(self._split_heads(self.key(hidden_states)))  # (b, h, s, e)
        value = hooks.hook_v(self._split_heads(self.value(hidden_states)))  # (b, h, s, e)

        z, pattern = attend(
            query,
            key,
            value,
            attention_mask,
            scale=self.scaling,
            dropout=self.attention_dropout.p if self.training else 0.0,
            hook_scores=hooks.hook_scores,
            hook_pattern=hooks.hook_pattern,
            need_weights=output_attentions,
        )  # z: (b, h, s, e), pattern: (b, h, s, s) or None
        z = hooks.hook_z(z)
        merged = z.transpose(1, 2).reshape(batch, seq, self.all_head_size)  # (b, s, d)
        attn_out = hooks.hook_attn_out(self.output_dropout(self.dense(merged)))  # (b, s, d)
        return self.LayerNorm(hidden_states + attn_out), pattern  # (b, s, d)


class AlbertLayer(nn.Module):
    """One post-norm layer, BERT's with ALBERT's names: x = LN(x + attn(x)); x = LN(x + ffn(x)).

    It owns weights, not hook points: ``forward`` is given the hooks of the application it runs as.
    """

    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.full_layer_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attention = AlbertAttention(config)
        self.ffn = nn.Linear(config.hidden_size, config.intermediate_size)
        self.ffn_output = nn.Linear(config.intermediate_size, config.hidden_size)
        self.activation = get_activation(config.hidden_act)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None,
        hooks: AlbertLayerHooks,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        resid = hooks.hook_resid_pre(hidden_states)  # (b, s, d)
        attention_output, pattern = self.attention(resid, attention_mask, hooks, output_attentions)
        resid = hooks.hook_resid_mid(attention_output)  # (b, s, d)
        pre = hooks.hook_mlp_pre(self.ffn(resid))  # (b, s, m)
        post = hooks.hook_mlp_post(self.activation(pre))  # (b, s, m)
        mlp_out = hooks.hook_mlp_out(self.ffn_output(post))  # (b, s, d); transformers has no dropout here
        return hooks.hook_resid_post(self.full_layer_layer_norm(mlp_out + resid)), pattern  # (b, s, d)


class AlbertLayerGroup(nn.Module):
    """One set of shared weights: ``inner_group_num`` layers (``albert_layers.j``) run in a row."""

    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.albert_layers = nn.ModuleList([AlbertLayer(config) for _ in range(config.inner_group_num)])


class AlbertTransformer(nn.Module):
    """E -> d, then the shared groups applied ``num_hidden_layers`` times.

    ``albert_layer_groups`` hold the weights (HF's names); ``layer_hooks`` hold one set of
    hook points per layer run (``num_hidden_layers * inner_group_num`` of them).
    """

    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.num_hidden_layers = config.num_hidden_layers
        self.layers_per_group = config.num_hidden_layers // config.num_hidden_groups  # divides: the config checked
        self.embedding_hidden_mapping_in = nn.Linear(config.embedding_size, config.hidden_size)
        self.albert_layer_groups = nn.ModuleList([AlbertLayerGroup(config) for _ in range(config.num_hidden_groups)])
        runs = config.num_hidden_layers * config.inner_group_num
        self.layer_hooks = nn.ModuleList([AlbertLayerHooks(i) for i in range(runs)])

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> tuple[torch.Tensor, tuple | None, tuple | None]:
        """(b, s, E) embeddings -> ``(last_hidden_state, hidden_states, attentions)``, the tuples None
        unless asked for. ``hidden_states`` starts with the widened embeddings (b, s, d), then each
        layer run's output, as transformers counts them."""
        hidden_states = self.embedding_hidden_mapping_in(hidden_states)  # (b, s, E) -> (b, s, d)
        all_hidden = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        run = 0
        for application in range(self.num_hidden_layers):
            group = self.albert_layer_groups[application // self.layers_per_group]  # the same weights, again
            for layer in group.albert_layers:
                hidden_states, pattern = layer(hidden_states, attention_mask, self.layer_hooks[run], output_attentions)
                run += 1
                if output_hidden_states:
                    all_hidden += (hidden_states,)
                if output_attentions:
                    all_attentions += (pattern,)
        return hidden_states, all_hidden, all_attentions


# --------------------------------------------------------------------------- models


class AlbertPreTrainedModel(PreTrainedModel):
    config_class = AlbertConfig
    base_model_prefix = "albert"
    _residual_stream_is_a_sum = False  # post-norm: each block normalises x + sublayer(x)
    _keys_to_ignore_on_load_unexpected = [r"embeddings\.position_ids$", r"embeddings\.token_type_ids$"]
    # A masked-LM checkpoint has no pooler (AlbertForMaskedLM is built without one).
    _keys_optional_in_checkpoint = [r"(^|\.)pooler\.(weight|bias)$"]

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, AlbertMLMHead):
            nn.init.zeros_(module.bias)


class AlbertModel(AlbertPreTrainedModel):
    """The bare ALBERT encoder: token ids -> ``last_hidden_state`` (b, s, d) and ``pooler_output`` (b, d)."""

    def __init__(self, config: AlbertConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = AlbertEmbeddings(config)
        self.encoder = AlbertTransformer(config)
        if add_pooling_layer:
            self.pooler = nn.Linear(config.hidden_size, config.hidden_size)
            self.pooler_activation = nn.Tanh()
        else:
            self.pooler = None
            self.pooler_activation = None
        self.hook_pooled = HookPoint()  # (b, d)
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
        ``token_type_ids`` (b, s): 0 for sentence A, 1 for sentence B (default: all 0).
        ``inputs_embeds`` are (b, s, E): ALBERT's narrow embeddings, before the E -> d map."""
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        batch, seq = check_model_inputs(
            input_ids, inputs_embeds, vocab_size=config.vocab_size, hidden_size=config.embedding_size,
            position_ids=position_ids, max_positions=config.max_position_embeddings, family="ALBERT",
        )
        if token_type_ids is not None and token_type_ids.numel():
            low, high = int(token_type_ids.min()), int(token_type_ids.max())
            if low < 0 or high >= config.type_vocab_size:
                raise ValueError(
                    f"token_type_ids hold values in [{low}, {high}] but this model has type_vocab_size="
                    f"{config.type_vocab_size} (ids 0..{config.type_vocab_size - 1}); use a tokenizer made for "
                    "this checkpoint, or leave token_type_ids out (all zeros)."
                )

        embedded = self.embeddings(
            input_ids=input_ids, token_type_ids=token_type_ids, position_ids=position_ids, inputs_embeds=inputs_embeds
        )  # (b, s, E)
        # Bidirectional: no causal mask, only padding keys are hidden. (b, 1, 1, s) or None.
        mask = build_attention_mask(attention_mask, seq, seq, causal=False, dtype=embedded.dtype,
                                    device=embedded.device)
        hidden, all_hidden, all_attentions = self.encoder(embedded, mask, output_attentions, output_hidden_states)
        hidden = self.hook_final(hidden)  # (b, s, d)
        if output_hidden_states:
            all_hidden = all_hidden[:-1] + (hidden,)  # the last entry is last_hidden_state, as in transformers
        pooled = None
        if self.pooler is not None:
            pooled = self.hook_pooled(self.pooler_activation(self.pooler(hidden[:, 0])))  # (b, d): first token
        return BaseModelOutputWithPooling(
            last_hidden_state=hidden,
            pooler_output=pooled,
            hidden_states=all_hidden,
            attentions=all_attentions,
        )


class AlbertMLMHead(nn.Module):
    """Hidden state -> a score for every vocabulary word, back through the narrow width:
    dense (d -> E), activation, LayerNorm, then ``decoder`` (E -> v).

    ``decoder.weight`` *is* the word-embedding matrix (tied), and ``decoder.bias`` *is* ``bias``:
    checkpoints store only ``predictions.bias``, as transformers 5 saves them.
    """

    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.LayerNorm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.dense = nn.Linear(config.hidden_size, config.embedding_size)
        self.decoder = nn.Linear(config.embedding_size, config.vocab_size)
        self.activation = get_activation(config.hidden_act)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        narrow = self.LayerNorm(self.activation(self.dense(hidden_states)))  # (b, s, d) -> (b, s, E)
        return self.decoder(narrow)  # (b, s, v)


class AlbertForMaskedLM(AlbertPreTrainedModel):
    """ALBERT's masked-language-modelling task: predict the words hidden behind [MASK] from both sides."""

    _tied_weights_keys = {
        "predictions.decoder.weight": "albert.embeddings.word_embeddings.weight",
        "predictions.decoder.bias": "predictions.bias",
    }

    def __init__(self, config: AlbertConfig):
        super().__init__(config)
        self.albert = AlbertModel(config, add_pooling_layer=False)
        self.predictions = AlbertMLMHead(config)
        self.hook_logits = HookPoint("logits")  # (b, s, v)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.predictions.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.predictions.decoder = new_embeddings
        self.predictions.bias = new_embeddings.bias

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
        outputs = self.albert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.hook_logits(self.predictions(outputs.last_hidden_state))  # (b, s, v)
        loss = masked_lm_loss(logits, labels) if labels is not None else None
        return MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


# The task heads are hfexplain.heads' generic ones. ALBERT's dropout before a classifier is
# ``classifier_dropout_prob`` (transformers' sequence head uses it as it is; its token head falls
# back to ``hidden_dropout_prob`` when it is None).


class AlbertForSequenceClassification(GenericForSequenceClassification, AlbertPreTrainedModel):
    """A linear ``classifier`` on the pooled first-token vector: one score per label for the whole text."""

    base_model_class = AlbertModel
    pooling = "pooler"
    classifier_name = "classifier"
    classifier_bias = True
    classifier_dropout = True

    def _dropout_probability(self, config: AlbertConfig) -> float:
        return config.classifier_dropout_prob


class AlbertForTokenClassification(GenericForTokenClassification, AlbertPreTrainedModel):
    """A linear ``classifier`` on every token (named entities, part-of-speech tags)."""

    base_model_class = AlbertModel
    base_model_kwargs = {"add_pooling_layer": False}
    classifier_name = "classifier"

    def _dropout_probability(self, config: AlbertConfig) -> float:
        if config.classifier_dropout_prob is not None:
            return config.classifier_dropout_prob
        return config.hidden_dropout_prob


class AlbertForQuestionAnswering(GenericForQuestionAnswering, AlbertPreTrainedModel):
    """Extractive question answering: start and end scores per token (``qa_outputs``: d -> 2)."""

    base_model_class = AlbertModel
    base_model_kwargs = {"add_pooling_layer": False}


__all__ = [
    "AlbertConfig",
    "AlbertPreTrainedModel",
    "AlbertModel",
    "AlbertForMaskedLM",
    "AlbertForSequenceClassification",
    "AlbertForTokenClassification",
    "AlbertForQuestionAnswering",
]
