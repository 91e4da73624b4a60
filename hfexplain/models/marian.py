"""Marian (Junczys-Dowmunt et al., 2018; the Helsinki-NLP opus-mt translators), with Hugging
Face's module tree and parameter names: the classic translation model.

    source ─► embed_tokens × embed_scale + sinusoidal positions ─► [ encoder layer × n ] ─┐
    target ─► embed_tokens × embed_scale + sinusoidal positions ─► [ decoder layer × n ] ─► lm_head ─► logits
                 causal self-attention ─► cross-attention (q: decoder, k/v: encoder) ◄────┘ ─► MLP

What changed since BART (``bart.py``), and where to look:

* **The layers did not change.** Attention, encoder layer and decoder layer (post-norm,
  cross-attention through ``hfexplain.layers.cross_attention``) are marked copies of BART's:
  ``tests/test_copies.py`` fails if one drifts.
* **Sinusoidal positions instead of learned ones**: a fixed table (``MarianSinusoidalPositionalEmbedding``,
  frozen, no offset), sines in the first half of each vector and cosines in the second (not
  interleaved as in "Attention is all you need"). ``MarianMTModel`` checkpoints do not store
  it (it is recomputed); ``MarianModel`` checkpoints do, and load it.
* **No layernorm on the embeddings** (BART's ``layernorm_embedding`` is gone), and the
  ``sqrt(d_model)`` scale (``scale_embedding``, on in the opus-mt checkpoints) is applied by
  the stacks, not by the embedding module.
* **The decoder starts at the pad token**: ``decoder_start_token_id`` = ``pad_token_id``
  (58100 in the defaults); there is no ``bos_token_id``, and ``</s>`` is id 0.
* **Embeddings**: with ``share_encoder_decoder_embeddings`` (the default) one ``shared`` table
  serves both stacks and the head, as in BART; without it the encoder and decoder have their
  own vocabularies (``decoder_vocab_size``) and the head is tied to the decoder's table.
* **No classification head**: Marian is a translator (``MarianModel``, ``MarianMTModel``).

Shapes: b=batch, s=source positions, t=new target positions, p=past + new target positions,
d=d_model, h=heads, e=d/h (head dim), m=ffn dim, v=vocab.

Hook points: BART's (see ``hfexplain.models.bart``), on the stacks ``"encoder"`` and ``"decoder"``;
``pos_embed`` holds the sinusoidal rows added.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..configuration import PretrainedConfig, check_divisible
from ..generation import GenerationMixin
from ..heads import check_model_inputs
from ..hooks import HookPoint
from ..layers import EncoderDecoderCache, attend, build_attention_mask, cross_attention_mask, encoder_key_values, \
    get_activation
from ..modeling import PreTrainedModel
from ..outputs import BaseModelOutput, Seq2SeqLMOutput, Seq2SeqModelOutput
from .bart import _check_labels, shift_tokens_right


class MarianConfig(PretrainedConfig):
    """Marian's hyper-parameters, with the names and defaults of transformers' ``MarianConfig``."""

    model_type = "marian"
    attribute_map = {"num_attention_heads": "encoder_attention_heads", "hidden_size": "d_model",
                     "num_hidden_layers": "encoder_layers"}

    def __init__(
        self,
        vocab_size: int = 58101,
        decoder_vocab_size: int | None = None,
        max_position_embeddings: int = 1024,
        encoder_layers: int = 12,
        encoder_ffn_dim: int = 4096,
        encoder_attention_heads: int = 16,
        decoder_layers: int = 12,
        decoder_ffn_dim: int = 4096,
        decoder_attention_heads: int = 16,
        encoder_layerdrop: float = 0.0,
        decoder_layerdrop: float = 0.0,
        use_cache: bool = True,
        is_encoder_decoder: bool = True,
        activation_function: str = "gelu",
        d_model: int = 1024,
        dropout: float = 0.1,
        attention_dropout: float = 0.0,
        activation_dropout: float = 0.0,
        init_std: float = 0.02,
        decoder_start_token_id: int | None = 58100,
        scale_embedding: bool = False,
        pad_token_id: int | None = 58100,
        eos_token_id: int | None = 0,
        bos_token_id: int | None = None,
        forced_eos_token_id: int | None = 0,
        share_encoder_decoder_embeddings: bool = True,
        **kwargs,
    ):
        for stack, heads in (("encoder", encoder_attention_heads), ("decoder", decoder_attention_heads)):
            check_divisible("d_model", d_model, f"{stack}_attention_heads", heads,
                            "each head gets d_model / heads dimensions; pick a divisor of d_model.")
        decoder_vocab_size = decoder_vocab_size or vocab_size
        if share_encoder_decoder_embeddings and decoder_vocab_size != vocab_size:
            raise ValueError(
                f"share_encoder_decoder_embeddings=True needs one vocabulary, but vocab_size={vocab_size} and "
                f"decoder_vocab_size={decoder_vocab_size}; set share_encoder_decoder_embeddings=False for two."
            )
        self.vocab_size = vocab_size
        self.decoder_vocab_size = decoder_vocab_size
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
        self.use_cache = use_cache
        self.scale_embedding = scale_embedding
        self.is_encoder_decoder = is_encoder_decoder
        self.decoder_start_token_id = decoder_start_token_id
        self.forced_eos_token_id = forced_eos_token_id
        self.share_encoder_decoder_embeddings = share_encoder_decoder_embeddings
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)


def sinusoidal_table(num_positions: int, dim: int) -> torch.Tensor:
    """(num_positions, dim): row p is sin(p / 10000^(2i/dim)) for the first ceil(dim/2) columns,
    then cos(p / 10000^(2i/dim)) for the rest (computed in float64, as transformers does)."""
    positions = torch.arange(num_positions, dtype=torch.float64)[:, None]  # (n, 1)
    sin_index = torch.arange(0, dim, 2, dtype=torch.float64)  # 2i for the sine columns
    cos_index = torch.arange(0, dim - 1, 2, dtype=torch.float64)  # 2i for the cosine columns
    sines = torch.sin(positions / torch.pow(10000.0, sin_index / dim))  # (n, ceil(dim/2))
    cosines = torch.cos(positions / torch.pow(10000.0, cos_index / dim))  # (n, floor(dim/2))
    return torch.cat([sines, cosines], dim=1).float()  # (n, dim)


class MarianSinusoidalPositionalEmbedding(nn.Embedding):
    """The fixed sinusoidal table; position i reads row i (frozen: ``requires_grad=False``)."""

    def __init__(self, num_positions: int, embedding_dim: int):
        super().__init__(num_positions, embedding_dim, _freeze=True)
        self.reset_table()

    def reset_table(self) -> None:
        with torch.no_grad():
            self.weight.copy_(sinusoidal_table(*self.weight.shape))

    @torch.no_grad()
    def forward(self, past: int, seq: int) -> torch.Tensor:
        positions = torch.arange(past, past + seq, device=self.weight.device)[None]  # (1, t)
        return super().forward(positions)  # (1, t, d)


# Copied from hfexplain.models.bart.BartAttention with Bart->Marian
class MarianAttention(nn.Module):
    """Multi-head attention: self-attention (q, k, v from one stream; causal in the decoder) or,
    with ``cross=True``, cross-attention (k, v from the encoder's output)."""

    def __init__(self, config: MarianConfig, num_heads: int, layer_idx: int, stack: str, cross: bool = False):
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


# Copied from hfexplain.models.bart.BartEncoderLayer with Bart->Marian
class MarianEncoderLayer(nn.Module):
    """Post-norm: x = LN(x + attn(x)); x = LN(x + fc2(act(fc1(x))))."""

    def __init__(self, config: MarianConfig, layer_idx: int):
        super().__init__()
        self.dropout = config.dropout
        self.activation_dropout = config.activation_dropout
        self.self_attn = MarianAttention(config, config.encoder_attention_heads, layer_idx, "encoder")
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


# Copied from hfexplain.models.bart.BartDecoderLayer with Bart->Marian
class MarianDecoderLayer(nn.Module):
    """Post-norm, three sublayers: causal self-attention, cross-attention to the encoder, MLP."""

    def __init__(self, config: MarianConfig, layer_idx: int):
        super().__init__()
        self.dropout = config.dropout
        self.activation_dropout = config.activation_dropout
        self.self_attn = MarianAttention(config, config.decoder_attention_heads, layer_idx, "decoder")
        self.activation_fn = get_activation(config.activation_function)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.encoder_attn = MarianAttention(config, config.decoder_attention_heads, layer_idx, "decoder", cross=True)
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


class MarianEncoder(nn.Module):
    """The encoder stack (``model.get_encoder()``): scaled embeddings plus sinusoids, no embedding norm."""

    def __init__(self, config: MarianConfig, embed_tokens: nn.Embedding):
        super().__init__()
        self.config = config
        self.dropout = config.dropout
        self.embed_scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0
        self.embed_tokens = embed_tokens
        self.embed_positions = MarianSinusoidalPositionalEmbedding(config.max_position_embeddings, config.d_model)
        self.layers = nn.ModuleList([MarianEncoderLayer(config, i) for i in range(config.encoder_layers)])
        self.hook_embed = HookPoint("embed", stack="encoder")  # (b, s, d)
        self.hook_pos_embed = HookPoint("pos_embed", stack="encoder")  # (1, s, d)
        self.hook_final = HookPoint("final", stack="encoder")  # (b, s, d)

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, output_attentions=False,
                output_hidden_states=False, return_dict=None) -> BaseModelOutput:
        config = self.config
        batch, seq = check_model_inputs(input_ids, inputs_embeds, vocab_size=config.vocab_size,
                                        hidden_size=config.d_model, max_positions=config.max_position_embeddings,
                                        family="Marian's encoder")
        embedded = self.embed_tokens(input_ids) * self.embed_scale if inputs_embeds is None else inputs_embeds
        hidden = self.hook_embed(embedded) + self.hook_pos_embed(self.embed_positions(0, seq))  # (b, s, d)
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


class MarianDecoder(nn.Module):
    """The decoder stack: causal self-attention over the target, cross-attention to the encoder."""

    def __init__(self, config: MarianConfig, embed_tokens: nn.Embedding):
        super().__init__()
        self.config = config
        self.dropout = config.dropout
        self.embed_scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0
        self.embed_tokens = embed_tokens
        self.embed_positions = MarianSinusoidalPositionalEmbedding(config.max_position_embeddings, config.d_model)
        self.layers = nn.ModuleList([MarianDecoderLayer(config, i) for i in range(config.decoder_layers)])
        self.hook_embed = HookPoint("embed", stack="decoder")  # (b, t, d)
        self.hook_pos_embed = HookPoint("pos_embed", stack="decoder")  # (1, t, d)
        self.hook_final = HookPoint("final", stack="decoder")  # (b, t, d)

    def forward(self, input_ids=None, attention_mask=None, encoder_hidden_states=None, encoder_attention_mask=None,
                past_key_values=None, inputs_embeds=None, use_cache=None, output_attentions=False,
                output_hidden_states=False):
        config = self.config
        past = past_key_values.get_seq_length() if past_key_values is not None else 0
        batch, new = check_model_inputs(input_ids, inputs_embeds, vocab_size=config.decoder_vocab_size,
                                        hidden_size=config.d_model, past_length=past,
                                        max_positions=config.max_position_embeddings,
                                        family="Marian's decoder")
        embedded = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds  # (b, t, d)
        embedded = embedded * self.embed_scale  # transformers scales given decoder embeddings too
        hidden = self.hook_embed(embedded) + self.hook_pos_embed(self.embed_positions(past, new))  # (b, t, d)
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


class MarianPreTrainedModel(PreTrainedModel):
    config_class = MarianConfig
    base_model_prefix = "model"
    _residual_stream_is_a_sum = False  # post-norm: each sublayer normalises x + sublayer(x)
    _keys_to_ignore_on_load_unexpected = [r"^final_logits_bias$"]

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.init_std
        if isinstance(module, MarianSinusoidalPositionalEmbedding):
            module.reset_table()
        elif isinstance(module, nn.Linear):
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


class MarianModel(MarianPreTrainedModel):
    """The two stacks without a head; returns the decoder's last hidden state (b, t, d)."""

    def __init__(self, config: MarianConfig):
        super().__init__(config)
        if config.share_encoder_decoder_embeddings:
            self.shared = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
            self._tied_weights_keys = {"encoder.embed_tokens.weight": "shared.weight",
                                       "decoder.embed_tokens.weight": "shared.weight"}
        encoder_tokens = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
        decoder_tokens = nn.Embedding(config.decoder_vocab_size, config.d_model, config.pad_token_id)
        self.encoder = MarianEncoder(config, encoder_tokens)
        self.decoder = MarianDecoder(config, decoder_tokens)
        self.post_init()

    def _plan_load(self, state_dict, ignore_mismatched_sizes: bool):
        """A MarianMTModel checkpoint has no sinusoid tables (they are fixed): keep ours, as transformers does
        (both the shape check on the meta device and the load go through here)."""
        state_dict = dict(state_dict)
        for key, table in self.state_dict().items():
            if key.endswith("embed_positions.weight") and key not in state_dict and f"model.{key}" not in state_dict:
                state_dict[key] = table
        return super()._plan_load(state_dict, ignore_mismatched_sizes)

    def get_input_embeddings(self):
        return self.shared if self.config.share_encoder_decoder_embeddings else self.encoder.embed_tokens

    def get_encoder(self):
        return self.encoder

    def forward(self, input_ids=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
                encoder_outputs=None, past_key_values=None, inputs_embeds=None, decoder_inputs_embeds=None,
                use_cache=None, output_attentions=False, output_hidden_states=False, return_dict=None):
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            raise ValueError(
                "pass decoder_input_ids: the translation so far, starting with decoder_start_token_id "
                f"({self.config.decoder_start_token_id}, Marian's pad token); or labels to MarianMTModel."
            )
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


class MarianMTModel(GenerationMixin, MarianPreTrainedModel):
    """Marian with its language-modelling head: the translator."""

    _computed_keys = ("model.encoder.embed_positions.weight", "model.decoder.embed_positions.weight")

    def __init__(self, config: MarianConfig):
        super().__init__(config)
        self.model = MarianModel(config)
        if config.share_encoder_decoder_embeddings:
            self._tied_weights_keys = {"lm_head.weight": "model.shared.weight",
                                       "model.encoder.embed_tokens.weight": "model.shared.weight",
                                       "model.decoder.embed_tokens.weight": "model.shared.weight"}
        else:
            self._tied_weights_keys = {"lm_head.weight": "model.decoder.embed_tokens.weight"}
        self.register_buffer("final_logits_bias", torch.zeros(1, config.decoder_vocab_size))  # (1, v)
        self.lm_head = nn.Linear(config.d_model, config.decoder_vocab_size, bias=False)
        self.hook_logits = HookPoint("logits", stack="decoder")  # (b, t, v): read from the decoder
        self.post_init()

    def _tied_targets(self) -> set[str]:
        # The sinusoid tables are neither saved nor read: transformers recomputes them (so do we).
        return super()._tied_targets() | set(self._computed_keys)

    def get_input_embeddings(self):
        return self.model.get_input_embeddings()

    def get_output_embeddings(self):
        return self.lm_head

    def get_encoder(self):
        return self.model.encoder

    def generation_position_limit(self) -> int:
        """The decoder's sinusoid table has max_position_embeddings rows."""
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


__all__ = ["MarianConfig", "MarianPreTrainedModel", "MarianModel", "MarianMTModel"]
