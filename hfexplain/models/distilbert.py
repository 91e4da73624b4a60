"""DistilBERT (Sanh et al., 2019), with Hugging Face's module tree and parameter names.

    tokens ─► word + position embeddings ─► LayerNorm ─► dropout
           ─► [ TransformerBlock × n_layers ] ─► last_hidden_state ─► task head

    block:  x ─► attention (q_lin, k_lin, v_lin, out_lin) ─► (+x) ─► sa_layer_norm
              ─► ffn (lin1, activation, lin2) ─► (+) ─► output_layer_norm ─►

What changed since BERT, and where to look:

* **Half the layers, distilled.** DistilBERT is a BERT-base with every other layer kept
  (6 instead of 12), trained to imitate BERT's output distribution. The math of a layer
  is BERT's post-norm layer: ``LN(x + attn(x))``, then ``LN(x + ffn(x))``.
* **No token types and no pooler.** There is no ``token_type_embeddings`` table (the
  tokenizer returns no ``token_type_ids``) and no next-sentence pooler; the sequence
  classifier reads the first token through its own ``pre_classifier`` (dense + ReLU).
* **Its own names and flatter modules.** ``dim`` / ``n_heads`` / ``n_layers`` /
  ``hidden_dim`` / ``activation`` in the config (``hidden_size`` and friends still work,
  through ``attribute_map``); ``q_lin`` / ``k_lin`` / ``v_lin`` / ``out_lin`` in one attention
  module (BERT splits it into ``self`` and ``output``), ``sa_layer_norm`` and
  ``output_layer_norm`` on the block, ``ffn.lin1`` / ``ffn.lin2``; the stack is ``transformer.layer``.
* The LayerNorm epsilon is fixed at 1e-12 (no config field), and the position table may be
  the fixed sinusoids of the original Transformer (``sinusoidal_pos_embds``; stored in the
  checkpoint as an ordinary weight).

Shapes: b=batch, s=sequence, d=dim, h=n_heads, e=d/h (head dim), m=hidden_dim, v=vocab_size,
c=num_labels.

Hook points (aliases of the shared vocabulary in brackets), per layer i under
``distilbert.transformer.layer.i``::

    hook_resid_pre [resid_pre]                            layer input (the embeddings for layer 0)
    attention.hook_q/k/v [q, k, v]                        (b, h, s, e)
    attention.hook_scores/pattern [scores, pattern]       (b, h, s, s)
    attention.hook_z [z]                                  (b, h, s, e)
    attention.hook_attn_out [attn_out]                    out_lin's output, before residual + LayerNorm
    hook_resid_mid [resid_mid]                            after sa_layer_norm
    ffn.hook_pre/hook_post [mlp_pre, mlp_post]            (b, s, m)
    ffn.hook_mlp_out [mlp_out]                            lin2's output, before residual + LayerNorm
    hook_resid_post [resid_post]                          layer output (after output_layer_norm)
"""
from __future__ import annotations

import torch
from torch import nn

from ..configuration import PretrainedConfig, check_divisible
from ..heads import (
    GenericForTokenClassification,
    check_model_inputs,
    masked_lm_loss,
    question_answering_loss,
    sequence_classification_loss,
)
from ..hooks import HookPoint
from ..layers import attend, build_attention_mask, get_activation
from ..modeling import PreTrainedModel
from ..outputs import BaseModelOutput, MaskedLMOutput, QuestionAnsweringModelOutput, SequenceClassifierOutput

LAYER_NORM_EPS = 1e-12  # fixed in DistilBERT (BERT reads config.layer_norm_eps)


class DistilBertConfig(PretrainedConfig):
    """DistilBERT's hyper-parameters, with the names and defaults of transformers' ``DistilBertConfig``
    (distilbert-base-uncased)."""

    model_type = "distilbert"
    attribute_map = {
        "hidden_size": "dim",
        "num_attention_heads": "n_heads",
        "num_hidden_layers": "n_layers",
    }

    def __init__(
        self,
        vocab_size: int = 30522,
        max_position_embeddings: int = 512,
        sinusoidal_pos_embds: bool = False,
        n_layers: int = 6,
        n_heads: int = 12,
        dim: int = 768,
        hidden_dim: int = 4 * 768,
        dropout: float = 0.1,
        attention_dropout: float = 0.1,
        activation: str = "gelu",
        initializer_range: float = 0.02,
        qa_dropout: float = 0.1,
        seq_classif_dropout: float = 0.2,
        pad_token_id: int | None = 0,
        eos_token_id: int | None = None,
        bos_token_id: int | None = None,
        tie_word_embeddings: bool = True,
        **kwargs,
    ):
        if not isinstance(activation, str):
            raise TypeError(
                f"activation must be an activation name such as 'gelu', got {type(activation).__name__}; "
                "configs are plain data, so pass the name."
            )
        check_divisible("dim", dim, "n_heads", n_heads, "each head gets dim / n_heads dimensions.")
        self.vocab_size = vocab_size
        self.max_position_embeddings = max_position_embeddings
        self.sinusoidal_pos_embds = sinusoidal_pos_embds
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.dim = dim
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation = activation
        self.initializer_range = initializer_range
        self.qa_dropout = qa_dropout
        self.seq_classif_dropout = seq_classif_dropout
        super().__init__(
            pad_token_id=pad_token_id, eos_token_id=eos_token_id, bos_token_id=bos_token_id,
            tie_word_embeddings=tie_word_embeddings, **kwargs,
        )


# --------------------------------------------------------------------------- embeddings


def create_sinusoidal_embeddings(n_pos: int, dim: int) -> torch.Tensor:
    """The fixed position table of "Attention is all you need": row p, column 2i is
    sin(p / 10000^(2i/dim)), column 2i+1 is cos of the same angle. (n_pos, dim), float32."""
    positions = torch.arange(n_pos, dtype=torch.float64)[:, None]  # (n_pos, 1)
    pair = torch.arange(dim, dtype=torch.float64) // 2  # (dim,): 0, 0, 1, 1, 2, 2 ...
    angles = positions / torch.pow(10000.0, 2 * pair / dim)  # (n_pos, dim)
    table = torch.empty(n_pos, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angles[:, 0::2])
    table[:, 1::2] = torch.cos(angles[:, 1::2])
    return table.float()


class Embeddings(nn.Module):
    """Token ids -> vectors: word + position embeddings, then LayerNorm (BERT's, without token types)."""

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.dim, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.dim)
        self.LayerNorm = nn.LayerNorm(config.dim, eps=LAYER_NORM_EPS)
        self.dropout = nn.Dropout(config.dropout)

        self.hook_embed = HookPoint("embed")  # (b, s, d) word embeddings
        self.hook_pos_embed = HookPoint("pos_embed")  # (b|1, s, d)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)  # (b, s, d)
        seq = inputs_embeds.shape[1]
        if position_ids is None:
            position_ids = torch.arange(seq, device=inputs_embeds.device)[None]  # (1, s)
        words = self.hook_embed(inputs_embeds)  # (b, s, d)
        positions = self.hook_pos_embed(self.position_embeddings(position_ids))  # (b|1, s, d)
        embeddings = self.LayerNorm(words + positions)  # (b, s, d)
        return self.dropout(embeddings)


# --------------------------------------------------------------------------- one block


class DistilBertSelfAttention(nn.Module):
    """Bidirectional multi-head self-attention: ``q_lin``, ``k_lin``, ``v_lin``, and ``out_lin`` in the same module."""

    def __init__(self, config: DistilBertConfig, layer_idx: int | None = None):
        super().__init__()
        self.n_heads = config.n_heads
        self.dim = config.dim
        self.attention_head_size = config.dim // config.n_heads
        self.scaling = self.attention_head_size**-0.5  # divide scores by sqrt(e)

        self.q_lin = nn.Linear(config.dim, config.dim)
        self.k_lin = nn.Linear(config.dim, config.dim)
        self.v_lin = nn.Linear(config.dim, config.dim)
        self.out_lin = nn.Linear(config.dim, config.dim)
        self.dropout = nn.Dropout(config.attention_dropout)

        self.hook_q = HookPoint("q", layer_idx)  # (b, h, s, e)
        self.hook_k = HookPoint("k", layer_idx)  # (b, h, s, e)
        self.hook_v = HookPoint("v", layer_idx)  # (b, h, s, e)
        self.hook_scores = HookPoint("scores", layer_idx)  # (b, h, s, s)
        self.hook_pattern = HookPoint("pattern", layer_idx)  # (b, h, s, s)
        self.hook_z = HookPoint("z", layer_idx)  # (b, h, s, e)
        self.hook_attn_out = HookPoint("attn_out", layer_idx)  # (b, s, d): what attention adds to the stream

    # Copied from hfexplain.models.gpt2.GPT2Attention._split_heads with num_heads->n_heads, head_dim->attention_head_size
    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        x = x.view(batch, seq, self.n_heads, self.attention_head_size)  # (b, s, h, e)
        return x.transpose(1, 2)  # (b, h, s, e)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``attention_mask``: the additive (b|1, 1, 1|s, s) mask from ``build_attention_mask`` or None."""
        batch, seq, _ = hidden_states.shape  # (b, s, d)
        query = self.hook_q(self._split_heads(self.q_lin(hidden_states)))  # (b, h, s, e)
        key = self.hook_k(self._split_heads(self.k_lin(hidden_states)))  # (b, h, s, e)
        value = self.hook_v(self._split_heads(self.v_lin(hidden_states)))  # (b, h, s, e)

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
        merged = z.transpose(1, 2).reshape(batch, seq, self.dim)  # (b, s, d)
        return self.hook_attn_out(self.out_lin(merged)), pattern  # (b, s, d)


class FFN(nn.Module):
    """The MLP: ``lin1`` (d -> m), the activation, ``lin2`` (m -> d), dropout."""

    def __init__(self, config: DistilBertConfig, layer_idx: int | None = None):
        super().__init__()
        self.lin1 = nn.Linear(config.dim, config.hidden_dim)
        self.lin2 = nn.Linear(config.hidden_dim, config.dim)
        self.activation = get_activation(config.activation)
        self.dropout = nn.Dropout(config.dropout)
        self.hook_pre = HookPoint("mlp_pre", layer_idx)  # (b, s, m)
        self.hook_post = HookPoint("mlp_post", layer_idx)  # (b, s, m)
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx)  # (b, s, d): what the MLP adds to the stream

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        pre = self.hook_pre(self.lin1(hidden_states))  # (b, s, m)
        post = self.hook_post(self.activation(pre))  # (b, s, m)
        return self.hook_mlp_out(self.dropout(self.lin2(post)))  # (b, s, d)


class TransformerBlock(nn.Module):
    """One post-norm layer, as BERT's: x = sa_layer_norm(x + attn(x)); x = output_layer_norm(x + ffn(x))."""

    def __init__(self, config: DistilBertConfig, layer_idx: int | None = None):
        super().__init__()
        self.attention = DistilBertSelfAttention(config, layer_idx)
        self.sa_layer_norm = nn.LayerNorm(config.dim, eps=LAYER_NORM_EPS)
        self.ffn = FFN(config, layer_idx)
        self.output_layer_norm = nn.LayerNorm(config.dim, eps=LAYER_NORM_EPS)
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
        attn_out, pattern = self.attention(resid, attention_mask, output_attentions)  # (b, s, d)
        resid = self.hook_resid_mid(self.sa_layer_norm(attn_out + resid))  # (b, s, d)
        layer_output = self.output_layer_norm(self.ffn(resid) + resid)  # (b, s, d)
        return self.hook_resid_post(layer_output), pattern


# Copied from hfexplain.models.bert.BertEncoder with BertConfig->DistilBertConfig, BertLayer->TransformerBlock, BertEncoder->Transformer
class Transformer(nn.Module):
    """The stack of ``num_hidden_layers`` layers (``layer.0`` ... ``layer.N-1``)."""

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.layer = nn.ModuleList([TransformerBlock(config, layer_idx=i) for i in range(config.num_hidden_layers)])

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


# --------------------------------------------------------------------------- models


class DistilBertPreTrainedModel(PreTrainedModel):
    config_class = DistilBertConfig
    base_model_prefix = "distilbert"
    _residual_stream_is_a_sum = False  # post-norm: each block normalises x + sublayer(x)
    # Checkpoints written by older transformers kept the position ids as a buffer; we make them on the fly.
    _keys_to_ignore_on_load_unexpected = [r"embeddings\.position_ids$"]

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, Embeddings) and self.config.sinusoidal_pos_embds:
            with torch.no_grad():
                table = create_sinusoidal_embeddings(self.config.max_position_embeddings, self.config.dim)
                module.position_embeddings.weight.copy_(table)


class DistilBertModel(DistilBertPreTrainedModel):
    """The bare DistilBERT encoder: token ids -> ``last_hidden_state`` (b, s, d). No pooler, no token types."""

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.embeddings = Embeddings(config)
        self.transformer = Transformer(config)
        self.hook_final = HookPoint("final")  # (b, s, d)
        self.post_init()

    # Copied from hfexplain.models.bert.BertModel.get_input_embeddings
    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    # Copied from hfexplain.models.bert.BertModel.set_input_embeddings
    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def get_position_embeddings(self) -> nn.Embedding:
        return self.embeddings.position_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutput:
        """``attention_mask`` (b, s): 1 for real tokens, 0 for padding (keys to ignore)."""
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        batch, seq = check_model_inputs(
            input_ids, inputs_embeds, vocab_size=config.vocab_size, hidden_size=config.dim,
            position_ids=position_ids, max_positions=config.max_position_embeddings, family="DistilBERT",
        )
        hidden = self.embeddings(input_ids=input_ids, inputs_embeds=inputs_embeds, position_ids=position_ids)
        # Bidirectional: no causal mask, only padding keys are hidden. (b, 1, 1, s) or None.
        mask = build_attention_mask(attention_mask, seq, seq, causal=False, dtype=hidden.dtype, device=hidden.device)
        hidden, all_hidden, all_attentions = self.transformer(hidden, mask, output_attentions, output_hidden_states)
        hidden = self.hook_final(hidden)  # (b, s, d)
        if output_hidden_states:
            all_hidden = all_hidden[:-1] + (hidden,)  # the last entry is last_hidden_state, as in transformers
        return BaseModelOutput(last_hidden_state=hidden, hidden_states=all_hidden, attentions=all_attentions)


class DistilBertForMaskedLM(DistilBertPreTrainedModel):
    """Masked-word prediction: ``vocab_transform`` -> activation -> ``vocab_layer_norm`` -> ``vocab_projector``.

    The same three steps as BERT's ``cls.predictions``, flat on the model; ``vocab_projector.weight``
    *is* the word-embedding matrix (tied), its bias is its own.
    """

    _tied_weights_keys = {"vocab_projector.weight": "distilbert.embeddings.word_embeddings.weight"}

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.activation = get_activation(config.activation)
        self.distilbert = DistilBertModel(config)
        self.vocab_transform = nn.Linear(config.dim, config.dim)
        self.vocab_layer_norm = nn.LayerNorm(config.dim, eps=LAYER_NORM_EPS)
        self.vocab_projector = nn.Linear(config.dim, config.vocab_size)
        self.hook_logits = HookPoint("logits")  # (b, s, v)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.vocab_projector

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.vocab_projector = new_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> MaskedLMOutput:
        """``labels`` (b, s): the original id at masked positions, -100 everywhere else."""
        outputs = self.distilbert(
            input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds, position_ids=position_ids,
            output_attentions=output_attentions, output_hidden_states=output_hidden_states,
        )
        x = self.activation(self.vocab_transform(outputs.last_hidden_state))  # (b, s, d)
        logits = self.hook_logits(self.vocab_projector(self.vocab_layer_norm(x)))  # (b, s, v)
        loss = masked_lm_loss(logits, labels) if labels is not None else None
        return MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class DistilBertForSequenceClassification(DistilBertPreTrainedModel):
    """One score per label: the first token -> ``pre_classifier`` (d -> d) -> ReLU -> dropout -> ``classifier``."""

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.distilbert = DistilBertModel(config)
        self.pre_classifier = nn.Linear(config.dim, config.dim)
        self.classifier = nn.Linear(config.dim, config.num_labels)
        self.dropout = nn.Dropout(config.seq_classif_dropout)
        self.hook_class_logits = HookPoint("class_logits")  # (b, c)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> SequenceClassifierOutput:
        """``labels`` (b,): class ids (cross-entropy), floats with num_labels == 1 (regression),
        or (b, num_labels) floats (multi-label); see ``config.problem_type``."""
        outputs = self.distilbert(
            input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds, position_ids=position_ids,
            output_attentions=output_attentions, output_hidden_states=output_hidden_states,
        )
        first = outputs.last_hidden_state[:, 0]  # (b, d): the [CLS] token
        pooled = self.dropout(torch.relu(self.pre_classifier(first)))  # (b, d)
        logits = self.hook_class_logits(self.classifier(pooled))  # (b, c)
        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class DistilBertForTokenClassification(GenericForTokenClassification, DistilBertPreTrainedModel):
    """A linear ``classifier`` on every token (named entities, part-of-speech tags)."""

    base_model_class = DistilBertModel
    classifier_name = "classifier"

    def _dropout_probability(self, config: DistilBertConfig) -> float:
        return config.dropout  # DistilBERT's name for the hidden dropout


class DistilBertForQuestionAnswering(DistilBertPreTrainedModel):
    """Extractive question answering: dropout (``qa_dropout``), then ``qa_outputs`` (d -> 2), the answer's
    start and end scores per token."""

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        if config.num_labels != 2:
            raise ValueError(
                f"DistilBertForQuestionAnswering scores a start and an end per token, so config.num_labels must be 2, "
                f"got {config.num_labels}; leave num_labels at its default."
            )
        self.distilbert = DistilBertModel(config)
        self.qa_outputs = nn.Linear(config.dim, config.num_labels)
        self.dropout = nn.Dropout(config.qa_dropout)
        self.hook_class_logits = HookPoint("class_logits")  # (b, s, 2): start and end scores
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> QuestionAnsweringModelOutput:
        """``start_positions`` / ``end_positions`` (b,): token index of the answer's first and
        last token. Positions outside the sequence are ignored by the loss (as in transformers)."""
        outputs = self.distilbert(
            input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds, position_ids=position_ids,
            output_attentions=output_attentions, output_hidden_states=output_hidden_states,
        )
        logits = self.hook_class_logits(self.qa_outputs(self.dropout(outputs.last_hidden_state)))  # (b, s, 2)
        start_logits = logits[..., 0].contiguous()  # (b, s)
        end_logits = logits[..., 1].contiguous()  # (b, s)
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = question_answering_loss(start_logits, end_logits, start_positions, end_positions)
        return QuestionAnsweringModelOutput(
            loss=loss, start_logits=start_logits, end_logits=end_logits,
            hidden_states=outputs.hidden_states, attentions=outputs.attentions,
        )


__all__ = [
    "DistilBertConfig",
    "DistilBertPreTrainedModel",
    "DistilBertModel",
    "DistilBertForMaskedLM",
    "DistilBertForSequenceClassification",
    "DistilBertForTokenClassification",
    "DistilBertForQuestionAnswering",
]
