"""BART (Lewis et al., 2019), with Hugging Face's module tree and parameter names.

    source ─► embed_tokens (× embed_scale) + positions (offset 2) ─► layernorm_embedding
           ─► [ encoder layer × encoder_layers ] ─► encoder output ─────────────────┐
    target ─► embed_tokens (× embed_scale) + positions (offset 2) ─► layernorm_embedding │
           ─► [ decoder layer × decoder_layers ] ─► lm_head + final_logits_bias ─► logits
                 causal self-attention ─► cross-attention (q: decoder, k/v: encoder) ◄┘ ─► MLP

What changed since BERT (the encoder) and GPT-2 (the decoder), and where to look:

* **Two stacks.** An encoder reads the whole source (no causal mask); a decoder writes the
  target one token at a time. Between its causal self-attention and its MLP every decoder
  layer has a **cross-attention** (``encoder_attn``): queries from the decoder, keys and
  values from the encoder's output, masked by the source's padding (see
  ``hfexplain.layers.cross_attention``). While generating, those keys and values are
  computed once and kept in the cross slot of an ``EncoderDecoderCache``.
* **Post-norm layers, as BERT**: ``x = LayerNorm(x + sublayer(x))`` after each sublayer, plus
  one ``layernorm_embedding`` on the embeddings of each stack. No final norm after the last
  layer (so no logit-lens norm: the last layer's output *is* the normalised stream).
* **Learned positions with an offset of 2**: position ``i`` reads row ``i + 2`` of a table with
  ``max_position_embeddings + 2`` rows (a fairseq leftover: rows 0 and 1 were reserved for
  padding). ``scale_embedding=True`` multiplies the token embeddings by ``sqrt(d_model)``.
* **One embedding for everything**: ``shared`` is the encoder's and the decoder's
  ``embed_tokens`` and the ``lm_head`` (tied; with ``tie_word_embeddings=False`` all four are
  separate, as in transformers), and the head adds a ``final_logits_bias`` buffer (zeros in
  the released checkpoints, kept so they load).
* **Labels are shifted right** to make the decoder's input (``shift_tokens_right``): the
  decoder sees ``decoder_start_token_id`` (``</s>``, id 2) then the labels but the last, and
  learns to predict each label from the ones before it.
* **Generation** starts the decoder at ``decoder_start_token_id`` and honours the config's
  ``forced_bos_token_id`` (the first generated token, e.g. ``<s>`` for bart-large-cnn) and
  ``forced_eos_token_id`` (``</s>`` as the token at ``max_length``).
* **Sequence classification** feeds the *same* text to both stacks (the decoder input is the
  shifted source) and classifies the decoder's state at the last ``</s>``
  (``classification_head``: dense, tanh, ``out_proj``).

Shapes: b=batch, s=source positions, t=new target positions, p=past + new target positions,
d=d_model, h=heads, e=d/h (head dim), m=ffn dim, v=vocab_size, c=num_labels.

Hook points, on the stacks ``"encoder"`` and ``"decoder"`` (``cache["pattern", 0, "encoder"]``):
``embed`` (scaled token embeddings), ``pos_embed``, per layer ``resid_pre``, ``q`` / ``k`` / ``v``,
``scores``, ``pattern``, ``z``, ``attn_out``, ``resid_mid``, in the decoder ``cross_q`` /
``cross_k`` / ``cross_v``, ``cross_scores``, ``cross_pattern``, ``cross_z``, ``cross_attn_out``,
``resid_mid_cross``, then ``mlp_pre``, ``mlp_post``, ``mlp_out``, ``resid_post``; ``final`` per
stack, and ``logits`` (the LM head) or ``class_logits`` (the classifier).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..configuration import PretrainedConfig, check_divisible
from ..generation import GenerationMixin
from ..heads import check_model_inputs, sequence_classification_loss
from ..hooks import HookPoint
from ..layers import EncoderDecoderCache, attend, build_attention_mask, cross_attention_mask, encoder_key_values, \
    get_activation
from ..modeling import PreTrainedModel
from ..outputs import BaseModelOutput, Seq2SeqLMOutput, Seq2SeqModelOutput, Seq2SeqSequenceClassifierOutput

POSITION_OFFSET = 2  # BART's position table has two extra rows in front


def shift_tokens_right(input_ids: torch.Tensor, pad_token_id: int | None, decoder_start_token_id: int | None):
    """(b, t) labels -> (b, t) decoder inputs: ``decoder_start_token_id`` then every label but the
    last; the loss's ignore index -100 becomes ``pad_token_id``."""
    if decoder_start_token_id is None:
        raise ValueError(
            "config.decoder_start_token_id is None, so the decoder has no first token to shift the labels "
            "behind; set model.config.decoder_start_token_id (BART: 2, the </s> token), or pass decoder_input_ids."
        )
    if pad_token_id is None:
        raise ValueError("config.pad_token_id is None; set it (BART: 1) so -100 labels can be fed as padding.")
    shifted = input_ids.new_zeros(input_ids.shape)  # (b, t)
    shifted[:, 1:] = input_ids[:, :-1]
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -100, pad_token_id)


class BartConfig(PretrainedConfig):
    """BART's hyper-parameters, with the names and defaults of transformers' ``BartConfig``
    (bart-large's shapes)."""

    model_type = "bart"
    attribute_map = {"num_attention_heads": "encoder_attention_heads", "hidden_size": "d_model",
                     "num_hidden_layers": "encoder_layers"}

    def __init__(
        self,
        vocab_size: int = 50265,
        max_position_embeddings: int = 1024,
        encoder_layers: int = 12,
        encoder_ffn_dim: int = 4096,
        encoder_attention_heads: int = 16,
        decoder_layers: int = 12,
        decoder_ffn_dim: int = 4096,
        decoder_attention_heads: int = 16,
        encoder_layerdrop: float = 0.0,
        decoder_layerdrop: float = 0.0,
        activation_function: str = "gelu",
        d_model: int = 1024,
        dropout: float = 0.1,
        attention_dropout: float = 0.0,
        activation_dropout: float = 0.0,
        init_std: float = 0.02,
        classifier_dropout: float = 0.0,
        scale_embedding: bool = False,
        use_cache: bool = True,
        num_labels: int | None = None,
        pad_token_id: int | None = 1,
        bos_token_id: int | None = 0,
        eos_token_id: int | None = 2,
        is_encoder_decoder: bool = True,
        decoder_start_token_id: int | None = 2,
        forced_bos_token_id: int | None = None,
        forced_eos_token_id: int | None = 2,
        id2label: dict | None = None,
        **kwargs,
    ):
        for stack, heads in (("encoder", encoder_attention_heads), ("decoder", decoder_attention_heads)):
            check_divisible("d_model", d_model, f"{stack}_attention_heads", heads,
                            "each head gets d_model / heads dimensions; pick a divisor of d_model.")
        if max_position_embeddings < 1:
            raise ValueError(f"max_position_embeddings must be >= 1, got {max_position_embeddings}.")
        self.vocab_size = vocab_size
        self.max_position_embeddings = max_position_embeddings
        self.d_model = d_model
        self.encoder_ffn_dim = encoder_ffn_dim
        self.encoder_layers = encoder_layers
        self.encoder_attention_heads = encoder_attention_heads
        self.decoder_ffn_dim = decoder_ffn_dim
        self.decoder_layers = decoder_layers
        self.decoder_attention_heads = decoder_attention_heads
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation_dropout = activation_dropout
        self.activation_function = activation_function
        self.init_std = init_std
        self.encoder_layerdrop = encoder_layerdrop
        self.decoder_layerdrop = decoder_layerdrop
        self.classifier_dropout = classifier_dropout
        self.use_cache = use_cache
        self.scale_embedding = scale_embedding
        self.is_encoder_decoder = is_encoder_decoder
        self.decoder_start_token_id = decoder_start_token_id
        self.forced_bos_token_id = forced_bos_token_id
        self.forced_eos_token_id = forced_eos_token_id
        if id2label is None and num_labels is None:
            num_labels = 3  # transformers' BART default (MNLI's three classes)
        super().__init__(num_labels=num_labels, id2label=id2label, pad_token_id=pad_token_id,
                         bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)


class BartLearnedPositionalEmbedding(nn.Embedding):
    """Learned positions; position i reads row i + 2 (``max_position_embeddings + 2`` rows)."""

    def __init__(self, num_positions: int, embedding_dim: int):
        super().__init__(num_positions + POSITION_OFFSET, embedding_dim)

    def forward(self, past: int, seq: int) -> torch.Tensor:
        positions = torch.arange(past, past + seq, device=self.weight.device)[None]  # (1, t)
        return super().forward(positions + POSITION_OFFSET)  # (1, t, d)


class BartScaledWordEmbedding(nn.Embedding):
    """Token embeddings times ``embed_scale`` (sqrt(d_model) with ``scale_embedding``, else 1)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None, embed_scale: float = 1.0):
        super().__init__(num_embeddings, embedding_dim, padding_idx)
        self.embed_scale = embed_scale

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return super().forward(input_ids) * self.embed_scale  # (b, s, d)


class BartAttention(nn.Module):
    """Multi-head attention: self-attention (q, k, v from one stream; causal in the decoder) or,
    with ``cross=True``, cross-attention (k, v from the encoder's output)."""

    def __init__(self, config: BartConfig, num_heads: int, layer_idx: int, stack: str, cross: bool = False):
        super().__init__()
        self.layer_idx = layer_idx
        self.cross = cross
        self.num_heads = num_heads
        self.head_dim = config.d_model // num_heads
        self.dropout = config.attention_dropout
        self.k_proj = nn.Linear(config.d_model, config.d_model)
        self.v_proj = nn.Linear(config.d_model, config.d_model)
        self.q_proj = nn.Linear(config.d_model, config.d_model)
        self.out_proj = nn.Linear(config.d_model, config.d_model)
        prefix = "cross_" if cross else ""
        self.hook_q = HookPoint(prefix + "q", layer_idx, stack)  # (b, h, t, e)
        self.hook_k = HookPoint(prefix + "k", layer_idx, stack)  # (b, h, s|t, e)
        self.hook_v = HookPoint(prefix + "v", layer_idx, stack)  # (b, h, s|t, e)
        self.hook_scores = HookPoint(prefix + "scores", layer_idx, stack)  # (b, h, t, s|p)
        self.hook_pattern = HookPoint(prefix + "pattern", layer_idx, stack)  # (b, h, t, s|p)
        self.hook_z = HookPoint(prefix + "z", layer_idx, stack)  # (b, h, t, e)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        return x.view(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)  # (b, h, seq, e)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None, encoder_states: torch.Tensor | None = None,
                cache: EncoderDecoderCache | None = None, output_attentions: bool = False):
        batch, seq, d = hidden.shape  # (b, t, d)
        query = self.hook_q(self._split_heads(self.q_proj(hidden)))  # (b, h, t, e)
        if self.cross:
            key, value = encoder_key_values(encoder_states, self.k_proj, self.v_proj, self.num_heads, self.head_dim,
                                            cache=cache, layer_idx=self.layer_idx, hook_k=self.hook_k,
                                            hook_v=self.hook_v)  # (b, h, s, e)
        else:
            key = self.hook_k(self._split_heads(self.k_proj(hidden)))  # (b, h, t, e)
            value = self.hook_v(self._split_heads(self.v_proj(hidden)))
            if cache is not None:
                key, value = cache.update(key, value, self.layer_idx)  # (b, h, p, e)
        z, pattern = attend(query, key, value, mask, scale=self.head_dim**-0.5,
                            dropout=self.dropout if self.training else 0.0, hook_scores=self.hook_scores,
                            hook_pattern=self.hook_pattern, need_weights=output_attentions)
        z = self.hook_z(z)  # (b, h, t, e)
        return self.out_proj(z.transpose(1, 2).reshape(batch, seq, d)), pattern  # (b, t, d)


class BartEncoderLayer(nn.Module):
    """Post-norm: x = LN(x + attn(x)); x = LN(x + fc2(act(fc1(x))))."""

    def __init__(self, config: BartConfig, layer_idx: int):
        super().__init__()
        self.dropout = config.dropout
        self.activation_dropout = config.activation_dropout
        self.self_attn = BartAttention(config, config.encoder_attention_heads, layer_idx, "encoder")
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.activation_fn = get_activation(config.activation_function)
        self.fc1 = nn.Linear(config.d_model, config.encoder_ffn_dim)
        self.fc2 = nn.Linear(config.encoder_ffn_dim, config.d_model)
        self.final_layer_norm = nn.LayerNorm(config.d_model)
        self.hook_resid_pre = HookPoint("resid_pre", layer_idx, "encoder")  # (b, s, d)
        self.hook_attn_out = HookPoint("attn_out", layer_idx, "encoder")  # (b, s, d)
        self.hook_resid_mid = HookPoint("resid_mid", layer_idx, "encoder")  # (b, s, d)
        self.hook_mlp_pre = HookPoint("mlp_pre", layer_idx, "encoder")  # (b, s, m)
        self.hook_mlp_post = HookPoint("mlp_post", layer_idx, "encoder")  # (b, s, m)
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx, "encoder")  # (b, s, d)
        self.hook_resid_post = HookPoint("resid_post", layer_idx, "encoder")  # (b, s, d)

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.dropout(x, p=self.dropout, training=self.training)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None, output_attentions: bool = False):
        hidden = self.hook_resid_pre(hidden)  # (b, s, d)
        attn_out, pattern = self.self_attn(hidden, mask, output_attentions=output_attentions)
        hidden = self.hook_resid_mid(self.self_attn_layer_norm(hidden + self.hook_attn_out(self._drop(attn_out))))
        inner = self.hook_mlp_post(self.activation_fn(self.hook_mlp_pre(self.fc1(hidden))))  # (b, s, m)
        inner = nn.functional.dropout(inner, p=self.activation_dropout, training=self.training)
        hidden = self.final_layer_norm(hidden + self.hook_mlp_out(self._drop(self.fc2(inner))))
        return self.hook_resid_post(hidden), pattern


class BartDecoderLayer(nn.Module):
    """Post-norm, three sublayers: causal self-attention, cross-attention to the encoder, MLP."""

    def __init__(self, config: BartConfig, layer_idx: int):
        super().__init__()
        self.dropout = config.dropout
        self.activation_dropout = config.activation_dropout
        self.self_attn = BartAttention(config, config.decoder_attention_heads, layer_idx, "decoder")
        self.activation_fn = get_activation(config.activation_function)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.encoder_attn = BartAttention(config, config.decoder_attention_heads, layer_idx, "decoder", cross=True)
        self.encoder_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.fc1 = nn.Linear(config.d_model, config.decoder_ffn_dim)
        self.fc2 = nn.Linear(config.decoder_ffn_dim, config.d_model)
        self.final_layer_norm = nn.LayerNorm(config.d_model)
        self.hook_resid_pre = HookPoint("resid_pre", layer_idx, "decoder")  # (b, t, d)
        self.hook_attn_out = HookPoint("attn_out", layer_idx, "decoder")  # (b, t, d)
        self.hook_resid_mid = HookPoint("resid_mid", layer_idx, "decoder")  # (b, t, d)
        self.hook_cross_attn_out = HookPoint("cross_attn_out", layer_idx, "decoder")  # (b, t, d)
        self.hook_resid_mid_cross = HookPoint("resid_mid_cross", layer_idx, "decoder")  # (b, t, d)
        self.hook_mlp_pre = HookPoint("mlp_pre", layer_idx, "decoder")  # (b, t, m)
        self.hook_mlp_post = HookPoint("mlp_post", layer_idx, "decoder")  # (b, t, m)
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx, "decoder")  # (b, t, d)
        self.hook_resid_post = HookPoint("resid_post", layer_idx, "decoder")  # (b, t, d)

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.dropout(x, p=self.dropout, training=self.training)

    def forward(self, hidden: torch.Tensor, self_mask: torch.Tensor | None, encoder_states: torch.Tensor,
                cross_mask: torch.Tensor | None, cache: EncoderDecoderCache | None = None,
                output_attentions: bool = False):
        hidden = self.hook_resid_pre(hidden)  # (b, t, d)
        attn_out, self_pattern = self.self_attn(hidden, self_mask, cache=cache, output_attentions=output_attentions)
        hidden = self.hook_resid_mid(self.self_attn_layer_norm(hidden + self.hook_attn_out(self._drop(attn_out))))
        cross_out, cross_pattern = self.encoder_attn(hidden, cross_mask, encoder_states, cache=cache,
                                                     output_attentions=output_attentions)
        hidden = self.encoder_attn_layer_norm(hidden + self.hook_cross_attn_out(self._drop(cross_out)))
        hidden = self.hook_resid_mid_cross(hidden)  # (b, t, d)
        inner = self.hook_mlp_post(self.activation_fn(self.hook_mlp_pre(self.fc1(hidden))))  # (b, t, m)
        inner = nn.functional.dropout(inner, p=self.activation_dropout, training=self.training)
        hidden = self.final_layer_norm(hidden + self.hook_mlp_out(self._drop(self.fc2(inner))))
        return self.hook_resid_post(hidden), self_pattern, cross_pattern


class BartEncoder(nn.Module):
    """The encoder stack (``model.get_encoder()``): runs once per source, also once per ``generate``."""

    def __init__(self, config: BartConfig):
        super().__init__()
        self.config = config
        self.dropout = config.dropout
        embed_scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0
        self.embed_tokens = BartScaledWordEmbedding(config.vocab_size, config.d_model, config.pad_token_id,
                                                    embed_scale)
        self.embed_positions = BartLearnedPositionalEmbedding(config.max_position_embeddings, config.d_model)
        self.layers = nn.ModuleList([BartEncoderLayer(config, i) for i in range(config.encoder_layers)])
        self.layernorm_embedding = nn.LayerNorm(config.d_model)
        self.hook_embed = HookPoint("embed", stack="encoder")  # (b, s, d)
        self.hook_pos_embed = HookPoint("pos_embed", stack="encoder")  # (1, s, d)
        self.hook_final = HookPoint("final", stack="encoder")  # (b, s, d)

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, output_attentions=False,
                output_hidden_states=False, return_dict=None) -> BaseModelOutput:
        config = self.config
        batch, seq = check_model_inputs(input_ids, inputs_embeds, vocab_size=config.vocab_size,
                                        hidden_size=config.d_model, max_positions=config.max_position_embeddings,
                                        family="BART's encoder")
        embedded = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds  # (b, s, d)
        hidden = self.hook_embed(embedded) + self.hook_pos_embed(self.embed_positions(0, seq))  # (b, s, d)
        hidden = self.layernorm_embedding(hidden)
        hidden = nn.functional.dropout(hidden, p=self.dropout, training=self.training)
        mask = build_attention_mask(attention_mask, seq, seq, causal=False, dtype=hidden.dtype, device=hidden.device)
        all_hidden, all_attn = (), ()
        for layer in self.layers:
            all_hidden += (hidden,)
            hidden, pattern = layer(hidden, mask, output_attentions)
            all_attn += (pattern,)
        hidden = self.hook_final(hidden)
        all_hidden += (hidden,)
        return BaseModelOutput(last_hidden_state=hidden, hidden_states=all_hidden if output_hidden_states else None,
                               attentions=all_attn if output_attentions else None)


class BartDecoder(nn.Module):
    """The decoder stack: causal self-attention over the target, cross-attention to the encoder."""

    def __init__(self, config: BartConfig):
        super().__init__()
        self.config = config
        self.dropout = config.dropout
        embed_scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0
        self.embed_tokens = BartScaledWordEmbedding(config.vocab_size, config.d_model, config.pad_token_id,
                                                    embed_scale)
        self.embed_positions = BartLearnedPositionalEmbedding(config.max_position_embeddings, config.d_model)
        self.layers = nn.ModuleList([BartDecoderLayer(config, i) for i in range(config.decoder_layers)])
        self.layernorm_embedding = nn.LayerNorm(config.d_model)
        self.hook_embed = HookPoint("embed", stack="decoder")  # (b, t, d)
        self.hook_pos_embed = HookPoint("pos_embed", stack="decoder")  # (1, t, d)
        self.hook_final = HookPoint("final", stack="decoder")  # (b, t, d)

    def forward(self, input_ids=None, attention_mask=None, encoder_hidden_states=None, encoder_attention_mask=None,
                past_key_values=None, inputs_embeds=None, use_cache=None, output_attentions=False,
                output_hidden_states=False):
        config = self.config
        past = past_key_values.get_seq_length() if past_key_values is not None else 0
        batch, new = check_model_inputs(input_ids, inputs_embeds, vocab_size=config.vocab_size,
                                        hidden_size=config.d_model, past_length=past,
                                        max_positions=config.max_position_embeddings,
                                        family="BART's decoder")
        embedded = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds  # (b, t, d)
        hidden = self.hook_embed(embedded) + self.hook_pos_embed(self.embed_positions(past, new))  # (b, t, d)
        hidden = self.layernorm_embedding(hidden)
        hidden = nn.functional.dropout(hidden, p=self.dropout, training=self.training)
        self_mask = build_attention_mask(attention_mask, new, past + new, causal=True, dtype=hidden.dtype,
                                         device=hidden.device)  # (b|1, 1, t, p)
        cross_mask = cross_attention_mask(encoder_attention_mask, encoder_hidden_states.shape[1], dtype=hidden.dtype,
                                          device=hidden.device)  # (b, 1, 1, s)
        all_hidden, self_attn, cross_attn = (), (), ()
        for layer in self.layers:
            all_hidden += (hidden,)
            hidden, self_pattern, cross_pattern = layer(hidden, self_mask, encoder_hidden_states, cross_mask,
                                                        past_key_values, output_attentions)
            self_attn += (self_pattern,)
            cross_attn += (cross_pattern,)
        hidden = self.hook_final(hidden)
        all_hidden += (hidden,)
        return (hidden, all_hidden if output_hidden_states else None, self_attn if output_attentions else None,
                cross_attn if output_attentions else None)


class BartPreTrainedModel(PreTrainedModel):
    config_class = BartConfig
    base_model_prefix = "model"
    _residual_stream_is_a_sum = False  # post-norm: each sublayer normalises x + sublayer(x)
    # fairseq's version buffers, and the LM head's bias buffer when a bare model or classifier loads an LM checkpoint
    _keys_to_ignore_on_load_unexpected = [r"encoder\.version", r"decoder\.version", r"^final_logits_bias$"]

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.init_std
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def _check_labels(labels: torch.Tensor, decoder_input_ids: torch.Tensor | None) -> None:
    if labels.dim() != 2 or (decoder_input_ids is not None and labels.shape != decoder_input_ids.shape):
        want = f"{tuple(decoder_input_ids.shape)}, like decoder_input_ids" if decoder_input_ids is not None else \
            "(batch, target_length)"
        raise ValueError(
            f"labels must have shape {want}: one target token id per decoder position (-100 to skip one); "
            f"got {tuple(labels.shape)}."
        )


class BartModel(BartPreTrainedModel):
    """The two stacks without a head; returns the decoder's last hidden state (b, t, d)."""

    _tied_weights_keys = {"encoder.embed_tokens.weight": "shared.weight",
                          "decoder.embed_tokens.weight": "shared.weight"}

    def __init__(self, config: BartConfig):
        super().__init__(config)
        embed_scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0
        self.shared = BartScaledWordEmbedding(config.vocab_size, config.d_model, config.pad_token_id, embed_scale)
        self.encoder = BartEncoder(config)
        self.decoder = BartDecoder(config)
        self.post_init()

    def get_input_embeddings(self):
        return self.shared

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.shared = value
        self.encoder.embed_tokens = self.decoder.embed_tokens = value

    def get_encoder(self):
        return self.encoder

    def forward(self, input_ids=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
                encoder_outputs=None, past_key_values=None, inputs_embeds=None, decoder_inputs_embeds=None,
                use_cache=None, output_attentions=False, output_hidden_states=False, return_dict=None):
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            if input_ids is None:
                raise ValueError(
                    "pass decoder_input_ids (the target so far, starting with decoder_start_token_id), or input_ids "
                    "alone (then the decoder reads the source shifted right, as in BART's denoising pre-training)."
                )
            decoder_input_ids = shift_tokens_right(input_ids, self.config.pad_token_id,
                                                   self.config.decoder_start_token_id)
        if encoder_outputs is None:
            encoder_outputs = self.encoder(input_ids, attention_mask, inputs_embeds, output_attentions,
                                           output_hidden_states)
        elif not isinstance(encoder_outputs, BaseModelOutput):  # a tuple (last_hidden_state, ...)
            encoder_outputs = BaseModelOutput(*encoder_outputs)
        if use_cache is None:
            use_cache = self.config.use_cache and not self.training
        if use_cache and past_key_values is None:
            past_key_values = EncoderDecoderCache()
        if not use_cache:
            past_key_values = None
        hidden, all_hidden, self_attn, cross_attn = self.decoder(
            decoder_input_ids, decoder_attention_mask, encoder_outputs.last_hidden_state, attention_mask,
            past_key_values, decoder_inputs_embeds, use_cache, output_attentions, output_hidden_states)
        return Seq2SeqModelOutput(
            last_hidden_state=hidden, past_key_values=past_key_values, decoder_hidden_states=all_hidden,
            decoder_attentions=self_attn, cross_attentions=cross_attn,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states, encoder_attentions=encoder_outputs.attentions,
        )


class BartForConditionalGeneration(GenerationMixin, BartPreTrainedModel):
    """BART with its language-modelling head: summarisation, translation, denoising."""

    _tied_weights_keys = {"lm_head.weight": "model.shared.weight",
                          "model.encoder.embed_tokens.weight": "model.shared.weight",
                          "model.decoder.embed_tokens.weight": "model.shared.weight"}

    def __init__(self, config: BartConfig):
        super().__init__(config)
        self.model = BartModel(config)
        self.register_buffer("final_logits_bias", torch.zeros(1, config.vocab_size))  # (1, v)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.hook_logits = HookPoint("logits", stack="decoder")  # (b, t, v): read from the decoder
        self.post_init()

    def get_input_embeddings(self):
        return self.model.shared

    def get_output_embeddings(self):
        return self.lm_head

    def get_encoder(self):
        return self.model.encoder

    def generation_position_limit(self) -> int:
        """The decoder's learned position table caps the target length."""
        return self.config.max_position_embeddings

    def forward(self, input_ids=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
                encoder_outputs=None, past_key_values=None, inputs_embeds=None, decoder_inputs_embeds=None,
                labels=None, use_cache=None, output_attentions=False, output_hidden_states=False,
                return_dict=None) -> Seq2SeqLMOutput:
        if labels is not None:
            _check_labels(labels, decoder_input_ids)
            use_cache = False
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = shift_tokens_right(labels, self.config.pad_token_id,
                                                       self.config.decoder_start_token_id)  # (b, t)
        outputs = self.model(input_ids, attention_mask, decoder_input_ids, decoder_attention_mask, encoder_outputs,
                             past_key_values, inputs_embeds, decoder_inputs_embeds, use_cache, output_attentions,
                             output_hidden_states)
        logits = self.hook_logits(self.lm_head(outputs.last_hidden_state) + self.final_logits_bias)  # (b, t, v)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).to(logits.device))
        return Seq2SeqLMOutput(
            loss=loss, logits=logits, past_key_values=outputs.past_key_values,
            decoder_hidden_states=outputs.decoder_hidden_states, decoder_attentions=outputs.decoder_attentions,
            cross_attentions=outputs.cross_attentions, encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states, encoder_attentions=outputs.encoder_attentions,
        )

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)


class BartClassificationHead(nn.Module):
    """dense -> tanh -> out_proj on one pooled vector (b, d) -> (b, c)."""

    def __init__(self, input_dim: int, inner_dim: int, num_classes: int, pooler_dropout: float):
        super().__init__()
        self.dense = nn.Linear(input_dim, inner_dim)
        self.dropout = nn.Dropout(p=pooler_dropout)
        self.out_proj = nn.Linear(inner_dim, num_classes)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        hidden = torch.tanh(self.dense(self.dropout(pooled)))  # (b, d)
        return self.out_proj(self.dropout(hidden))  # (b, c)


class BartForSequenceClassification(BartPreTrainedModel):
    """Classifies the decoder's state at each row's last ``</s>`` (the source goes into both stacks)."""

    _tied_weights_keys = {"model.encoder.embed_tokens.weight": "model.shared.weight",
                          "model.decoder.embed_tokens.weight": "model.shared.weight"}

    def __init__(self, config: BartConfig):
        super().__init__(config)
        self.model = BartModel(config)
        self.classification_head = BartClassificationHead(config.d_model, config.d_model, config.num_labels,
                                                          config.classifier_dropout)
        self.hook_class_logits = HookPoint("class_logits", stack="decoder")  # (b, c)
        self.post_init()

    def get_encoder(self):
        return self.model.encoder

    def forward(self, input_ids=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
                encoder_outputs=None, inputs_embeds=None, decoder_inputs_embeds=None, labels=None, use_cache=None,
                output_attentions=False, output_hidden_states=False, return_dict=None):
        if input_ids is None:
            raise ValueError(f"{type(self).__name__} needs input_ids: it pools the decoder at each row's last </s>.")
        outputs = self.model(input_ids, attention_mask, decoder_input_ids, decoder_attention_mask, encoder_outputs,
                             None, inputs_embeds, decoder_inputs_embeds, False, output_attentions,
                             output_hidden_states)
        hidden = outputs.last_hidden_state  # (b, s, d)
        is_eos = input_ids.eq(self.config.eos_token_id)  # (b, s)
        counts = is_eos.sum(1)
        if int(counts.min()) < 1 or bool((counts != counts[0]).any()):
            raise ValueError(
                f"every row of input_ids must hold the same number (>= 1) of </s> tokens (eos_token_id="
                f"{self.config.eos_token_id}); got {counts.tolist()}. Tokenize with the BART tokenizer, which ends "
                "each text with </s>."
            )
        last_eos = hidden[is_eos].view(hidden.shape[0], -1, hidden.shape[-1])[:, -1, :]  # (b, d)
        logits = self.hook_class_logits(self.classification_head(last_eos))  # (b, c)
        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return Seq2SeqSequenceClassifierOutput(
            loss=loss, logits=logits, decoder_hidden_states=outputs.decoder_hidden_states,
            decoder_attentions=outputs.decoder_attentions, cross_attentions=outputs.cross_attentions,
            encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states, encoder_attentions=outputs.encoder_attentions,
        )


__all__ = [
    "BartConfig",
    "BartPreTrainedModel",
    "BartModel",
    "BartForConditionalGeneration",
    "BartForSequenceClassification",
    "shift_tokens_right",
]
