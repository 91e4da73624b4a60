"""A small encoder-decoder written for the tests: the seams T5, BART, Whisper and BLIP use.

    source ids ─► embed ─► [ encoder layer × n ] ─► encoder states ─┐
    target ids ─► embed ─► [ decoder layer × n ] ─► lm_head ─► logits
                              self-attn (causal) ─► cross-attn (q: decoder, k/v: encoder) ─► mlp

Post-norm layers, learned positions, one embedding shared by both stacks and the head.
Its hook points carry ``stack="encoder"`` / ``"decoder"`` and the cross-attention aliases,
and its decoder uses an :class:`EncoderDecoderCache` (self k/v grow, cross k/v computed once).
No reference implementation exists for it: tests compare cache on/off, the fast and the
watched attention paths, and hand computations.

Shapes: b=batch, s=source positions, t=target positions (new), p=past+new target
positions, d=d_model, h=heads, e=d/h, v=vocab.
"""
from __future__ import annotations

import torch
from torch import nn

from hfexplain.configuration import PretrainedConfig
from hfexplain.generation import GenerationMixin
from hfexplain.hooks import HookPoint
from hfexplain.layers import EncoderDecoderCache, attend, build_attention_mask
from hfexplain.modeling import PreTrainedModel
from hfexplain.outputs import BaseModelOutput, Seq2SeqLMOutput


class ToySeq2SeqConfig(PretrainedConfig):
    model_type = "toy-seq2seq"
    attribute_map = {"hidden_size": "d_model", "num_attention_heads": "heads", "num_hidden_layers": "layers"}

    def __init__(self, vocab_size=37, d_model=16, heads=2, layers=2, d_ff=24, max_positions=64,
                 pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1, **kwargs):
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.heads = heads
        self.layers = layers
        self.d_ff = d_ff
        self.max_positions = max_positions
        self.decoder_start_token_id = decoder_start_token_id
        self.is_encoder_decoder = True
        kwargs.pop("is_encoder_decoder", None)
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)


class ToyAttention(nn.Module):
    """Self-attention (q, k, v from one stream) or cross-attention (k, v from the encoder)."""

    def __init__(self, config: ToySeq2SeqConfig, layer_idx: int, stack: str, cross: bool = False):
        super().__init__()
        self.layer_idx = layer_idx
        self.cross = cross
        self.num_heads = config.heads
        self.head_dim = config.d_model // config.heads
        self.q_proj = nn.Linear(config.d_model, config.d_model)
        self.k_proj = nn.Linear(config.d_model, config.d_model)
        self.v_proj = nn.Linear(config.d_model, config.d_model)
        self.out_proj = nn.Linear(config.d_model, config.d_model)
        prefix = "cross_" if cross else ""
        self.hook_q = HookPoint(prefix + "q", layer_idx, stack)  # (b, h, t, e)
        self.hook_k = HookPoint(prefix + "k", layer_idx, stack)  # (b, h, s|t, e)
        self.hook_v = HookPoint(prefix + "v", layer_idx, stack)  # (b, h, s|t, e)
        self.hook_scores = HookPoint(prefix + "scores", layer_idx, stack)  # (b, h, t, s|p)
        self.hook_pattern = HookPoint(prefix + "pattern", layer_idx, stack)  # (b, h, t, s|p)
        self.hook_z = HookPoint(prefix + "z", layer_idx, stack)  # (b, h, t, e)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        return x.view(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)  # (b, h, seq, e)

    def forward(self, hidden, mask, key_value_states=None, cache: EncoderDecoderCache | None = None,
                output_attentions=False):
        batch, seq, d = hidden.shape  # (b, t, d)
        query = self.hook_q(self._split(self.q_proj(hidden)))  # (b, h, t, e)
        if self.cross and cache is not None and cache.is_cross_ready(self.layer_idx):
            key, value = cache.get_cross(self.layer_idx)  # (b, h, s, e), computed on the first step
        else:
            source = key_value_states if self.cross else hidden
            key = self.hook_k(self._split(self.k_proj(source)))  # (b, h, s|t, e)
            value = self.hook_v(self._split(self.v_proj(source)))
            if cache is not None:
                if self.cross:
                    key, value = cache.set_cross(key, value, self.layer_idx)
                else:
                    key, value = cache.update(key, value, self.layer_idx)  # (b, h, p, e)
        z, pattern = attend(query, key, value, mask, scale=self.head_dim**-0.5, hook_scores=self.hook_scores,
                            hook_pattern=self.hook_pattern, need_weights=output_attentions)
        z = self.hook_z(z)  # (b, h, t, e)
        return self.out_proj(z.transpose(1, 2).reshape(batch, seq, d)), pattern  # (b, t, d)


class ToyMLP(nn.Module):
    def __init__(self, config: ToySeq2SeqConfig, layer_idx: int, stack: str):
        super().__init__()
        self.fc1 = nn.Linear(config.d_model, config.d_ff)
        self.fc2 = nn.Linear(config.d_ff, config.d_model)
        self.hook_pre = HookPoint("mlp_pre", layer_idx, stack)  # (b, s, m)
        self.hook_post = HookPoint("mlp_post", layer_idx, stack)  # (b, s, m)

    def forward(self, hidden):
        return self.fc2(self.hook_post(torch.relu(self.hook_pre(self.fc1(hidden)))))


class ToyEncoderLayer(nn.Module):
    def __init__(self, config: ToySeq2SeqConfig, layer_idx: int):
        super().__init__()
        self.self_attn = ToyAttention(config, layer_idx, "encoder")
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.mlp = ToyMLP(config, layer_idx, "encoder")
        self.final_layer_norm = nn.LayerNorm(config.d_model)
        self.hook_resid_pre = HookPoint("resid_pre", layer_idx, "encoder")
        self.hook_attn_out = HookPoint("attn_out", layer_idx, "encoder")
        self.hook_resid_mid = HookPoint("resid_mid", layer_idx, "encoder")
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx, "encoder")
        self.hook_resid_post = HookPoint("resid_post", layer_idx, "encoder")

    def forward(self, hidden, mask, output_attentions=False):
        hidden = self.hook_resid_pre(hidden)  # (b, s, d)
        attn_out, pattern = self.self_attn(hidden, mask, output_attentions=output_attentions)
        hidden = self.hook_resid_mid(self.self_attn_layer_norm(hidden + self.hook_attn_out(attn_out)))
        hidden = self.final_layer_norm(hidden + self.hook_mlp_out(self.mlp(hidden)))
        return self.hook_resid_post(hidden), pattern


class ToyDecoderLayer(nn.Module):
    def __init__(self, config: ToySeq2SeqConfig, layer_idx: int):
        super().__init__()
        self.self_attn = ToyAttention(config, layer_idx, "decoder")
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.encoder_attn = ToyAttention(config, layer_idx, "decoder", cross=True)
        self.encoder_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.mlp = ToyMLP(config, layer_idx, "decoder")
        self.final_layer_norm = nn.LayerNorm(config.d_model)
        self.hook_resid_pre = HookPoint("resid_pre", layer_idx, "decoder")
        self.hook_attn_out = HookPoint("attn_out", layer_idx, "decoder")
        self.hook_resid_mid = HookPoint("resid_mid", layer_idx, "decoder")
        self.hook_cross_attn_out = HookPoint("cross_attn_out", layer_idx, "decoder")
        self.hook_resid_mid_cross = HookPoint("resid_mid_cross", layer_idx, "decoder")
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx, "decoder")
        self.hook_resid_post = HookPoint("resid_post", layer_idx, "decoder")

    def forward(self, hidden, self_mask, encoder_states, cross_mask, cache=None, output_attentions=False):
        hidden = self.hook_resid_pre(hidden)  # (b, t, d)
        attn_out, self_pattern = self.self_attn(hidden, self_mask, cache=cache, output_attentions=output_attentions)
        hidden = self.hook_resid_mid(self.self_attn_layer_norm(hidden + self.hook_attn_out(attn_out)))
        cross_out, cross_pattern = self.encoder_attn(hidden, cross_mask, key_value_states=encoder_states,
                                                     cache=cache, output_attentions=output_attentions)
        hidden = self.encoder_attn_layer_norm(hidden + self.hook_cross_attn_out(cross_out))
        hidden = self.hook_resid_mid_cross(hidden)  # (b, t, d)
        hidden = self.final_layer_norm(hidden + self.hook_mlp_out(self.mlp(hidden)))
        return self.hook_resid_post(hidden), self_pattern, cross_pattern


class ToyEncoder(nn.Module):
    """The encoder stack alone (what ``get_encoder()`` returns): runs once per generate call."""

    def __init__(self, config: ToySeq2SeqConfig, embed_tokens: nn.Embedding):
        super().__init__()
        self.embed_tokens = embed_tokens
        self.embed_positions = nn.Embedding(config.max_positions, config.d_model)
        self.layers = nn.ModuleList([ToyEncoderLayer(config, i) for i in range(config.layers)])
        self.hook_embed = HookPoint("embed", stack="encoder")  # (b, s, d)
        self.hook_final = HookPoint("final", stack="encoder")  # (b, s, d)

    def forward(self, input_ids, attention_mask=None, output_attentions=False, output_hidden_states=False):
        seq = input_ids.shape[1]
        positions = torch.arange(seq, device=input_ids.device)[None]  # (1, s)
        hidden = self.hook_embed(self.embed_tokens(input_ids)) + self.embed_positions(positions)  # (b, s, d)
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


class ToySeq2SeqForConditionalGeneration(GenerationMixin, PreTrainedModel):
    config_class = ToySeq2SeqConfig
    base_model_prefix = ""
    _tied_weights_keys = {"lm_head.weight": "shared.weight"}

    def __init__(self, config: ToySeq2SeqConfig):
        super().__init__(config)
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = ToyEncoder(config, self.shared)
        self.decoder_positions = nn.Embedding(config.max_positions, config.d_model)
        self.decoder_layers = nn.ModuleList([ToyDecoderLayer(config, i) for i in range(config.layers)])
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.hook_decoder_embed = HookPoint("embed", stack="decoder")  # (b, t, d)
        self.hook_decoder_final = HookPoint("final", stack="decoder")  # (b, t, d)
        self.hook_logits = HookPoint("logits")  # (b, t, v): the decoder's
        self.post_init()

    def get_input_embeddings(self):
        return self.shared

    def get_output_embeddings(self):
        return self.lm_head

    def get_encoder(self):
        return self.encoder

    def generation_position_limit(self) -> int:
        """The decoder's learned position table caps the target length."""
        return self.config.max_positions

    def forward(self, input_ids=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
                encoder_outputs=None, past_key_values=None, use_cache=None, output_attentions=False,
                output_hidden_states=False, labels=None, return_dict=None):
        if encoder_outputs is None:
            if input_ids is None:
                raise ValueError("pass input_ids (the source) or encoder_outputs.")
            encoder_outputs = self.encoder(input_ids, attention_mask, output_attentions, output_hidden_states)
        encoder_states = encoder_outputs.last_hidden_state  # (b, s, d)
        if decoder_input_ids is None:
            raise ValueError("pass decoder_input_ids (the target so far, starting with decoder_start_token_id).")
        if use_cache and past_key_values is None:
            past_key_values = EncoderDecoderCache()
        past = past_key_values.get_seq_length() if past_key_values is not None else 0
        batch, new = decoder_input_ids.shape
        positions = torch.arange(past, past + new, device=decoder_input_ids.device)[None]  # (1, t)
        hidden = self.hook_decoder_embed(self.shared(decoder_input_ids)) + self.decoder_positions(positions)
        self_mask = build_attention_mask(decoder_attention_mask, new, past + new, causal=True, dtype=hidden.dtype,
                                         device=hidden.device)  # (b|1, 1, t, p)
        cross_mask = build_attention_mask(attention_mask, new, encoder_states.shape[1], causal=False,
                                          dtype=hidden.dtype, device=hidden.device)  # (b, 1, 1, s)
        self_attn, cross_attn, all_hidden = (), (), ()
        for layer in self.decoder_layers:
            all_hidden += (hidden,)
            hidden, self_pattern, cross_pattern = layer(hidden, self_mask, encoder_states, cross_mask,
                                                        past_key_values, output_attentions)
            self_attn += (self_pattern,)
            cross_attn += (cross_pattern,)
        hidden = self.hook_decoder_final(hidden)
        all_hidden += (hidden,)
        logits = self.hook_logits(self.lm_head(hidden))  # (b, t, v)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
        return Seq2SeqLMOutput(
            loss=loss, logits=logits, past_key_values=past_key_values if use_cache else None,
            decoder_hidden_states=all_hidden if output_hidden_states else None,
            decoder_attentions=self_attn if output_attentions else None,
            cross_attentions=cross_attn if output_attentions else None,
            encoder_last_hidden_state=encoder_states, encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
        )
