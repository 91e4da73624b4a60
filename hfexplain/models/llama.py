"""LLaMA (Touvron et al., 2023), with Hugging Face's module tree and parameter names.

    tokens ─► embed_tokens ─► [ decoder layer × num_hidden_layers ] ─► norm ─► lm_head ─► logits
                                   ▲
               rotary_emb(position_ids) ─► (cos, sin), shared by every layer

    decoder layer:  x ─► input_layernorm ─► self_attn ─► (+x) ─► post_attention_layernorm ─► mlp ─► (+) ─►

What changed since GPT-2, and where to look:

* **No position embedding is added.** Positions enter inside attention: queries and
  keys are *rotated* by an angle proportional to their position (rotary embeddings,
  ``hfexplain/layers/rotary.py``), so attention scores depend on relative distance.
* **RMSNorm** instead of LayerNorm: no mean subtraction, no bias.
* **Grouped-query attention**: ``num_key_value_heads`` (g) may be smaller than
  ``num_attention_heads`` (h); each key/value head serves h/g query heads, which makes
  the KV cache h/g times smaller.
* **SwiGLU MLP**: ``down_proj(silu(gate_proj(x)) * up_proj(x))``, a gated MLP with three
  matrices instead of two.
* No biases by default (``attention_bias``, ``mlp_bias``), no dropout except on attention.

Shapes: b=batch, s=sequence (new positions), p=past+new positions, d=hidden_size,
h=num_attention_heads, g=num_key_value_heads, e=head_dim, m=intermediate_size,
v=vocab_size.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..configuration import PretrainedConfig, check_divisible
from ..generation import GenerationMixin
from ..heads import (
    GenericForQuestionAnswering,
    GenericForSequenceClassification,
    GenericForTokenClassification,
    causal_lm_loss,
    check_model_inputs,
)
from ..hooks import HookPoint
from ..layers import KVCache, RMSNorm, attend, build_attention_mask, get_activation
from ..layers.rotary import (
    RotaryEmbedding,
    apply_rotary_pos_emb,
    check_rope_parameters,
    standardize_rope_parameters,
)
from ..modeling import PreTrainedModel
from ..outputs import BaseModelOutputWithPast, CausalLMOutputWithPast


class LlamaConfig(PretrainedConfig):
    """LLaMA's hyper-parameters, with transformers' names and defaults (Llama-2-7B).

    RoPE settings live in ``rope_parameters`` (``{"rope_type": "default", "rope_theta":
    10000.0}``, plus ``factor`` and friends for the scaled types), which is what
    transformers 5 writes. Configs in the older form, a top-level ``rope_theta`` and an
    optional ``rope_scaling`` dict, are read too and converted; only ``rope_parameters``
    is written back.
    """

    model_type = "llama"

    def __init__(
        self,
        vocab_size: int = 32000,
        hidden_size: int = 4096,
        intermediate_size: int = 11008,
        num_hidden_layers: int = 32,
        num_attention_heads: int = 32,
        num_key_value_heads: int | None = None,
        hidden_act: str = "silu",
        max_position_embeddings: int = 2048,
        initializer_range: float = 0.02,
        rms_norm_eps: float = 1e-6,
        use_cache: bool = True,
        pad_token_id: int | None = None,
        bos_token_id: int | None = 1,
        eos_token_id: int | list[int] | None = 2,
        pretraining_tp: int | None = 1,
        tie_word_embeddings: bool = False,
        rope_parameters: dict[str, Any] | None = None,
        attention_bias: bool = False,
        attention_dropout: float = 0.0,
        mlp_bias: bool = False,
        head_dim: int | None = None,
        rope_scaling: dict[str, Any] | None = None,
        rope_theta: float | None = None,
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_attention_heads if num_key_value_heads is None else num_key_value_heads
        self.head_dim = hidden_size // num_attention_heads if head_dim is None else head_dim
        self.hidden_act = hidden_act
        self.max_position_embeddings = max_position_embeddings
        self.initializer_range = initializer_range
        self.rms_norm_eps = rms_norm_eps
        self.use_cache = use_cache
        self.pretraining_tp = pretraining_tp  # kept for round trips; transformers 5 ignores it too
        self.attention_bias = attention_bias
        self.attention_dropout = attention_dropout
        self.mlp_bias = mlp_bias
        # rope_scaling / rope_theta are the pre-v5 spelling: read them, store rope_parameters only.
        self.rope_parameters = standardize_rope_parameters(
            rope_parameters,
            rope_scaling=rope_scaling,
            rope_theta=rope_theta,
            max_position_embeddings=max_position_embeddings,
        )

        check_divisible("hidden_size", hidden_size, "num_attention_heads", num_attention_heads,
                        "as transformers requires; change one of them.")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads ({num_attention_heads}) must be divisible by num_key_value_heads "
                f"({self.num_key_value_heads}): in grouped-query attention each key/value head serves the same "
                "number of query heads. Use a divisor of num_attention_heads (equal to it for plain multi-head "
                "attention, 1 for multi-query attention)."
            )
        check_rope_parameters(self.rope_parameters, self.head_dim)
        super().__init__(
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )

    @property
    def rope_scaling(self) -> dict[str, Any]:
        """The pre-v5 name of ``rope_parameters`` (transformers 5 keeps it as an alias too)."""
        return self.rope_parameters

    @rope_scaling.setter
    def rope_scaling(self, value: dict[str, Any] | None) -> None:
        rope_parameters = standardize_rope_parameters(
            value, rope_theta=self.rope_parameters.get("rope_theta"),
            max_position_embeddings=self.max_position_embeddings,
        )
        check_rope_parameters(rope_parameters, self.head_dim)  # before anything changes
        self.rope_parameters = rope_parameters


class LlamaAttention(nn.Module):
    """Causal self-attention with rotary positions and grouped-query key/value heads."""

    def __init__(self, config: LlamaConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.num_attention_heads
        self.num_key_value_heads = config.num_key_value_heads
        self.num_key_value_groups = self.num_heads // self.num_key_value_heads  # query heads per kv head
        self.head_dim = config.head_dim
        self.scaling = self.head_dim**-0.5
        self.attention_dropout = config.attention_dropout

        bias = config.attention_bias
        self.q_proj = nn.Linear(config.hidden_size, self.num_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(config.hidden_size, self.num_key_value_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(config.hidden_size, self.num_key_value_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, config.hidden_size, bias=bias)

        self.hook_q_pre_rotary = HookPoint()  # (b, h, s, e) queries before the rotation
        self.hook_k_pre_rotary = HookPoint()  # (b, g, s, e) keys before the rotation
        self.hook_q = HookPoint("q", layer_idx)  # (b, h, s, e) after rotary
        self.hook_k = HookPoint("k", layer_idx)  # (b, g, s, e) after rotary: what the KV cache stores
        self.hook_v = HookPoint("v", layer_idx)  # (b, g, s, e)
        self.hook_scores = HookPoint("scores", layer_idx)  # (b, h, s, p)
        self.hook_pattern = HookPoint("pattern", layer_idx)  # (b, h, s, p)
        self.hook_z = HookPoint("z", layer_idx)  # (b, h, s, e)

    def _split_heads(self, x: torch.Tensor, num_heads: int) -> torch.Tensor:
        batch, seq, _ = x.shape
        x = x.view(batch, seq, num_heads, self.head_dim)  # (b, s, heads, e)
        return x.transpose(1, 2)  # (b, heads, s, e)

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
        past_key_values: KVCache | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, seq, _ = hidden_states.shape  # (b, s, d)
        query = self.hook_q_pre_rotary(self._split_heads(self.q_proj(hidden_states), self.num_heads))  # (b, h, s, e)
        key = self.hook_k_pre_rotary(self._split_heads(self.k_proj(hidden_states), self.num_key_value_heads))  # (b, g, s, e)
        value = self.hook_v(self._split_heads(self.v_proj(hidden_states), self.num_key_value_heads))  # (b, g, s, e)

        cos, sin = position_embeddings  # (b|1, s, e) each
        query = self.hook_q(apply_rotary_pos_emb(query, cos, sin))  # (b, h, s, e)
        key = self.hook_k(apply_rotary_pos_emb(key, cos, sin))  # (b, g, s, e)
        if past_key_values is not None:
            # Keys are cached already rotated: a position's rotation never changes.
            key, value = past_key_values.update(key, value, self.layer_idx)  # (b, g, p, e)

        z, pattern = attend(
            query,
            key,
            value,
            mask,
            scale=self.scaling,
            dropout=self.attention_dropout if self.training else 0.0,
            hook_scores=self.hook_scores,
            hook_pattern=self.hook_pattern,
            need_weights=output_attentions,
        )  # z: (b, h, s, e); attend repeats each kv head for its query heads
        z = self.hook_z(z)
        merged = z.transpose(1, 2).reshape(batch, seq, self.num_heads * self.head_dim)  # (b, s, h*e)
        return self.o_proj(merged), pattern  # (b, s, d)


class LlamaMLP(nn.Module):
    """SwiGLU feed-forward: down_proj(act(gate_proj(x)) * up_proj(x)), d -> m -> d."""

    def __init__(self, config: LlamaConfig, layer_idx: int):
        super().__init__()
        bias = config.mlp_bias
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=bias)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=bias)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=bias)
        self.act_fn = get_activation(config.hidden_act)
        self.hook_pre = HookPoint("mlp_pre", layer_idx)  # (b, s, m) gate_proj(x), before the activation
        self.hook_up = HookPoint()  # (b, s, m) up_proj(x), the values the gate lets through
        self.hook_post = HookPoint("mlp_post", layer_idx)  # (b, s, m) act(gate) * up

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        gate = self.hook_pre(self.gate_proj(hidden_states))  # (b, s, m)
        up = self.hook_up(self.up_proj(hidden_states))  # (b, s, m)
        post = self.hook_post(self.act_fn(gate) * up)  # (b, s, m)
        return self.down_proj(post)  # (b, s, d)


class LlamaDecoderLayer(nn.Module):
    """One pre-norm block: x + self_attn(input_layernorm(x)), then + mlp(post_attention_layernorm(.))."""

    def __init__(self, config: LlamaConfig, layer_idx: int):
        super().__init__()
        self.self_attn = LlamaAttention(config, layer_idx)
        self.mlp = LlamaMLP(config, layer_idx)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

        self.hook_resid_pre = HookPoint("resid_pre", layer_idx)  # (b, s, d)
        self.hook_attn_out = HookPoint("attn_out", layer_idx)  # (b, s, d)
        self.hook_resid_mid = HookPoint("resid_mid", layer_idx)  # (b, s, d)
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx)  # (b, s, d)
        self.hook_resid_post = HookPoint("resid_post", layer_idx)  # (b, s, d)

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
        past_key_values: KVCache | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        resid = self.hook_resid_pre(hidden_states)  # (b, s, d)
        attn_out, pattern = self.self_attn(
            self.input_layernorm(resid), position_embeddings, mask, past_key_values, output_attentions
        )
        resid = self.hook_resid_mid(resid + self.hook_attn_out(attn_out))  # (b, s, d)
        mlp_out = self.hook_mlp_out(self.mlp(self.post_attention_layernorm(resid)))  # (b, s, d)
        return self.hook_resid_post(resid + mlp_out), pattern


class LlamaPreTrainedModel(PreTrainedModel):
    config_class = LlamaConfig
    base_model_prefix = "model"

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)  # Linear and Embedding: normal(0, initializer_range), biases 0
        if isinstance(module, RMSNorm):
            nn.init.ones_(module.weight)


class LlamaModel(LlamaPreTrainedModel):
    """The bare LLaMA decoder: token ids -> last hidden state (after the final ``norm``)."""

    _final_norm = "norm"  # the norm after the last block (ActivationCache.apply_final_norm)

    def __init__(self, config: LlamaConfig):
        super().__init__(config)
        self.padding_idx = config.pad_token_id
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, self.padding_idx)
        self.layers = nn.ModuleList([LlamaDecoderLayer(config, layer_idx=i) for i in range(config.num_hidden_layers)])
        self.norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary_emb = RotaryEmbedding(config.head_dim, config.rope_parameters, config.max_position_embeddings)
        self.hook_embed = HookPoint("embed")  # (b, s, d)
        self.hook_final = HookPoint("final")  # (b, s, d)
        self.post_init()

    # Copied from hfexplain.models.gpt2.GPT2Model.get_input_embeddings with wte->embed_tokens
    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    # Copied from hfexplain.models.gpt2.GPT2Model.set_input_embeddings with wte->embed_tokens
    def set_input_embeddings(self, embeddings: nn.Embedding) -> None:
        self.embed_tokens = embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: KVCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPast:
        """``attention_mask`` (b, p): 1 for real tokens, 0 for padding, past positions included.
        ``position_ids`` (b|1, s): each new token's position; by default past, past+1, ...
        Left-padded batches should pass them (``attention_mask.cumsum(-1) - 1``) so every
        row's first real token is position 0, as ``generate`` does."""
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        use_cache = (config.use_cache and not self.training) if use_cache is None else use_cache
        if use_cache and past_key_values is None:
            past_key_values = KVCache()
        past_length = past_key_values.get_seq_length() if past_key_values is not None else 0

        # No length limit here: rotary positions extend past max_position_embeddings.
        batch, seq = check_model_inputs(
            input_ids, inputs_embeds, vocab_size=config.vocab_size, hidden_size=config.hidden_size,
            position_ids=position_ids,
        )
        if input_ids is not None:
            inputs_embeds = self.embed_tokens(input_ids)  # (b, s, d)
        if position_ids is None:
            position_ids = torch.arange(past_length, past_length + seq, device=inputs_embeds.device)[None]  # (1, s)

        hidden = self.hook_embed(inputs_embeds)  # (b, s, d)
        # One rotation table for the whole model: every layer rotates by the same angles.
        position_embeddings = self.rotary_emb(position_ids, dtype=hidden.dtype)  # cos, sin: (b|1, s, e)
        mask = build_attention_mask(
            attention_mask, seq, past_length + seq, causal=True, dtype=hidden.dtype, device=hidden.device
        )  # (b|1, 1, s, p) or None

        all_hidden = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layers:
            if output_hidden_states:
                all_hidden += (hidden,)
            hidden, pattern = layer(hidden, position_embeddings, mask, past_key_values, output_attentions)
            if output_attentions:
                all_attentions += (pattern,)
        hidden = self.hook_final(self.norm(hidden))  # (b, s, d)
        if output_hidden_states:
            all_hidden += (hidden,)  # as transformers: the last entry is after the final norm

        return BaseModelOutputWithPast(
            last_hidden_state=hidden,
            past_key_values=past_key_values if use_cache else None,
            hidden_states=all_hidden,
            attentions=all_attentions,
        )


class LlamaForCausalLM(GenerationMixin, LlamaPreTrainedModel):
    """LLaMA with a language-modelling head (untied from the embedding unless
    ``tie_word_embeddings`` is set, as in the small Llama 3.2 models)."""

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: LlamaConfig):
        super().__init__(config)
        self.model = LlamaModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.hook_logits = HookPoint("logits")  # (b, s, v)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: KVCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> CausalLMOutputWithPast:
        """``labels`` (b, s): the input ids themselves; the shift happens inside the loss.
        ``logits_to_keep``: compute logits for only the last n positions (0 = all), or a
        tensor of the sequence indices to keep."""
        outputs = self.model(
            input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        hidden = outputs.last_hidden_state  # (b, s, d)
        if isinstance(logits_to_keep, torch.Tensor):
            hidden = hidden[:, logits_to_keep]  # (b, n, d)
        elif logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]  # (b, n, d)
        logits = self.hook_logits(self.lm_head(hidden))  # (b, s, v)
        loss = causal_lm_loss(logits, labels) if labels is not None else None
        return CausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


# The task heads are hfexplain.heads' generic ones, with transformers' names: ``score`` for
# the classifiers, ``qa_outputs`` for QA, and, for QA only, the bare model under ``transformer``
# (transformers keeps that older prefix there, so its checkpoints say ``transformer.layers.0...``).


class LlamaForSequenceClassification(GenericForSequenceClassification, LlamaPreTrainedModel):
    """A ``score`` (no bias) read at each row's last non-padding token."""

    base_model_class = LlamaModel


class LlamaForTokenClassification(GenericForTokenClassification, LlamaPreTrainedModel):
    """Dropout (``classifier_dropout``, else 0.1), then a ``score`` with a bias on every token."""

    base_model_class = LlamaModel


class LlamaForQuestionAnswering(GenericForQuestionAnswering, LlamaPreTrainedModel):
    """Answer start and end scores per token (``qa_outputs``), on the bare model at ``transformer``."""

    base_model_class = LlamaModel
    base_model_prefix = "transformer"


__all__ = [
    "LlamaConfig",
    "LlamaModel",
    "LlamaForCausalLM",
    "LlamaForSequenceClassification",
    "LlamaForTokenClassification",
    "LlamaForQuestionAnswering",
    "LlamaPreTrainedModel",
]
