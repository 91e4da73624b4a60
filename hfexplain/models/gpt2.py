"""GPT-2 (Radford et al., 2019), with Hugging Face's module tree and parameter names.

    tokens ─► wte + wpe ─► drop ─► [ block × n_layer ] ─► ln_f ─► lm_head ─► logits

    block:  x ─► ln_1 ─► attn ─► (+x) ─► ln_2 ─► mlp ─► (+) ─►
            (pre-norm: each sub-layer reads a normalised copy of the residual stream
             and adds its output back to it)

Shapes: b=batch, s=sequence (new positions), p=past+new positions, d=n_embd,
h=n_head, e=d/h (head dim), m=n_inner (4d by default), v=vocab_size.

OpenAI's checkpoints store projections as ``Conv1D`` (weight shaped (in, out)); we keep
that layout so their files load unchanged. ``lm_head`` shares its weight with ``wte``.
"""
from __future__ import annotations

import torch
from torch import nn

from ..configuration import PretrainedConfig, check_divisible
from ..generation import GenerationMixin
from ..heads import GenericForSequenceClassification, causal_lm_loss, check_model_inputs, check_token_type_ids
from ..hooks import HookPoint
from ..layers import Conv1D, KVCache, attend, build_attention_mask, get_activation
from ..modeling import PreTrainedModel
from ..outputs import BaseModelOutputWithPast, CausalLMOutputWithPast


class GPT2Config(PretrainedConfig):
    """GPT-2's hyper-parameters, with the names of OpenAI's original config."""

    model_type = "gpt2"
    attribute_map = {
        "hidden_size": "n_embd",
        "max_position_embeddings": "n_positions",
        "num_attention_heads": "n_head",
        "num_hidden_layers": "n_layer",
    }

    def __init__(
        self,
        vocab_size: int = 50257,
        n_positions: int = 1024,
        n_embd: int = 768,
        n_layer: int = 12,
        n_head: int = 12,
        n_inner: int | None = None,
        activation_function: str = "gelu_new",
        resid_pdrop: float = 0.1,
        embd_pdrop: float = 0.1,
        attn_pdrop: float = 0.1,
        layer_norm_epsilon: float = 1e-5,
        initializer_range: float = 0.02,
        summary_type: str = "cls_index",
        summary_use_proj: bool = True,
        summary_activation: str | None = None,
        summary_proj_to_labels: bool = True,
        summary_first_dropout: float = 0.1,
        scale_attn_weights: bool = True,
        use_cache: bool = True,
        bos_token_id: int | None = 50256,
        eos_token_id: int | None = 50256,
        scale_attn_by_inverse_layer_idx: bool = False,
        reorder_and_upcast_attn: bool = False,
        add_cross_attention: bool = False,
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.n_positions = n_positions
        self.n_embd = n_embd
        self.n_layer = n_layer
        self.n_head = n_head
        self.n_inner = n_inner
        self.activation_function = activation_function
        self.resid_pdrop = resid_pdrop
        self.embd_pdrop = embd_pdrop
        self.attn_pdrop = attn_pdrop
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.summary_type = summary_type
        self.summary_use_proj = summary_use_proj
        self.summary_activation = summary_activation
        self.summary_proj_to_labels = summary_proj_to_labels
        self.summary_first_dropout = summary_first_dropout
        self.scale_attn_weights = scale_attn_weights
        self.use_cache = use_cache
        self.scale_attn_by_inverse_layer_idx = scale_attn_by_inverse_layer_idx
        self.reorder_and_upcast_attn = reorder_and_upcast_attn
        if add_cross_attention:
            raise NotImplementedError("hfexplain's GPT-2 has no cross-attention (add_cross_attention=True).")
        self.add_cross_attention = add_cross_attention
        check_divisible("n_embd", n_embd, "n_head", n_head, "each head gets n_embd / n_head dimensions.")
        super().__init__(bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)


class GPT2Attention(nn.Module):
    """Causal multi-head self-attention with one fused q/k/v projection (``c_attn``)."""

    def __init__(self, config: GPT2Config, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.embed_dim = config.n_embd
        self.num_heads = config.n_head
        self.head_dim = self.embed_dim // self.num_heads
        # GPT-2 divides scores by sqrt(e); some variants also divide by (layer index + 1).
        self.scaling = self.head_dim**-0.5 if config.scale_attn_weights else 1.0
        if config.scale_attn_by_inverse_layer_idx:
            self.scaling /= float(layer_idx + 1)

        self.c_attn = Conv1D(3 * self.embed_dim, self.embed_dim)
        self.c_proj = Conv1D(self.embed_dim, self.embed_dim)
        self.attn_dropout = nn.Dropout(config.attn_pdrop)
        self.resid_dropout = nn.Dropout(config.resid_pdrop)

        self.hook_q = HookPoint("q", layer_idx)  # (b, h, s, e)
        self.hook_k = HookPoint("k", layer_idx)  # (b, h, s, e)
        self.hook_v = HookPoint("v", layer_idx)  # (b, h, s, e)
        self.hook_scores = HookPoint("scores", layer_idx)  # (b, h, s, p)
        self.hook_pattern = HookPoint("pattern", layer_idx)  # (b, h, s, p)
        self.hook_z = HookPoint("z", layer_idx)  # (b, h, s, e)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        x = x.view(batch, seq, self.num_heads, self.head_dim)  # (b, s, h, e)
        return x.transpose(1, 2)  # (b, h, s, e)

    def forward(
        self,
        hidden_states: torch.Tensor,
        mask: torch.Tensor | None,
        past_key_values: KVCache | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, seq, _ = hidden_states.shape  # (b, s, d)
        query, key, value = self.c_attn(hidden_states).split(self.embed_dim, dim=2)  # 3 x (b, s, d)
        query = self.hook_q(self._split_heads(query))  # (b, h, s, e)
        key = self.hook_k(self._split_heads(key))  # (b, h, s, e)
        value = self.hook_v(self._split_heads(value))  # (b, h, s, e)
        if past_key_values is not None:
            key, value = past_key_values.update(key, value, self.layer_idx)  # (b, h, p, e)

        z, pattern = attend(
            query,
            key,
            value,
            mask,
            scale=self.scaling,
            dropout=self.attn_dropout.p if self.training else 0.0,
            hook_scores=self.hook_scores,
            hook_pattern=self.hook_pattern,
            need_weights=output_attentions,
        )  # z: (b, h, s, e)
        z = self.hook_z(z)
        merged = z.transpose(1, 2).reshape(batch, seq, self.embed_dim)  # (b, s, d)
        out = self.resid_dropout(self.c_proj(merged))  # (b, s, d)
        return out, pattern


class GPT2MLP(nn.Module):
    """Position-wise feed-forward: d -> m -> activation -> d."""

    def __init__(self, intermediate_size: int, config: GPT2Config, layer_idx: int):
        super().__init__()
        self.c_fc = Conv1D(intermediate_size, config.n_embd)
        self.c_proj = Conv1D(config.n_embd, intermediate_size)
        self.act = get_activation(config.activation_function)
        self.dropout = nn.Dropout(config.resid_pdrop)
        self.hook_pre = HookPoint("mlp_pre", layer_idx)  # (b, s, m)
        self.hook_post = HookPoint("mlp_post", layer_idx)  # (b, s, m)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        pre = self.hook_pre(self.c_fc(hidden_states))  # (b, s, m)
        post = self.hook_post(self.act(pre))  # (b, s, m)
        return self.dropout(self.c_proj(post))  # (b, s, d)


class GPT2Block(nn.Module):
    """One pre-norm transformer block: x + attn(ln_1(x)), then + mlp(ln_2(.))."""

    def __init__(self, config: GPT2Config, layer_idx: int):
        super().__init__()
        inner_dim = config.n_inner if config.n_inner is not None else 4 * config.n_embd
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = GPT2Attention(config, layer_idx)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = GPT2MLP(inner_dim, config, layer_idx)

        self.hook_resid_pre = HookPoint("resid_pre", layer_idx)  # (b, s, d)
        self.hook_attn_out = HookPoint("attn_out", layer_idx)  # (b, s, d)
        self.hook_resid_mid = HookPoint("resid_mid", layer_idx)  # (b, s, d)
        self.hook_mlp_out = HookPoint("mlp_out", layer_idx)  # (b, s, d)
        self.hook_resid_post = HookPoint("resid_post", layer_idx)  # (b, s, d)

    def forward(
        self,
        hidden_states: torch.Tensor,
        mask: torch.Tensor | None,
        past_key_values: KVCache | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        resid = self.hook_resid_pre(hidden_states)  # (b, s, d)
        attn_out, pattern = self.attn(self.ln_1(resid), mask, past_key_values, output_attentions)
        resid = self.hook_resid_mid(resid + self.hook_attn_out(attn_out))  # (b, s, d)
        mlp_out = self.hook_mlp_out(self.mlp(self.ln_2(resid)))  # (b, s, d)
        return self.hook_resid_post(resid + mlp_out), pattern


class GPT2PreTrainedModel(PreTrainedModel):
    config_class = GPT2Config
    base_model_prefix = "transformer"
    # OpenAI's checkpoints saved the causal mask as a buffer; we build masks on the fly.
    _keys_to_ignore_on_load_unexpected = [r"attn\.bias$", r"attn\.masked_bias$"]

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        std = self.config.initializer_range
        if isinstance(module, Conv1D):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            nn.init.zeros_(module.bias)
        if isinstance(module, (GPT2Attention, GPT2MLP)):
            # GPT-2 scales the init of residual projections by 1/sqrt(2 * n_layer).
            nn.init.normal_(module.c_proj.weight, mean=0.0, std=std / (2 * self.config.n_layer) ** 0.5)


class GPT2Model(GPT2PreTrainedModel):
    """The bare GPT-2: token ids -> last hidden state (after ``ln_f``)."""

    _final_norm = "ln_f"  # the norm after the last block (ActivationCache.apply_final_norm)

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.n_positions, config.n_embd)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = nn.ModuleList([GPT2Block(config, layer_idx=i) for i in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.hook_embed = HookPoint("embed")  # (b, s, d)
        self.hook_pos_embed = HookPoint("pos_embed")  # (b|1, s, d)
        self.hook_final = HookPoint("final")  # (b, s, d)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.wte

    def set_input_embeddings(self, embeddings: nn.Embedding) -> None:
        self.wte = embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        past_key_values: KVCache | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPast:
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        use_cache = (config.use_cache and not self.training) if use_cache is None else use_cache
        if use_cache and past_key_values is None:
            past_key_values = KVCache()
        past_length = past_key_values.get_seq_length() if past_key_values is not None else 0

        batch, seq = check_model_inputs(
            input_ids, inputs_embeds, vocab_size=config.vocab_size, hidden_size=config.n_embd,
            position_ids=position_ids, past_length=past_length, max_positions=config.n_positions,
            positions_field="n_positions", family="GPT-2",
        )
        if input_ids is not None:
            inputs_embeds = self.wte(input_ids)  # (b, s, d)
        if position_ids is None:
            position_ids = torch.arange(past_length, past_length + seq, device=inputs_embeds.device)[None]  # (1, s)

        hidden = self.hook_embed(inputs_embeds) + self.hook_pos_embed(self.wpe(position_ids))  # (b, s, d)
        check_token_type_ids(token_type_ids, config.vocab_size, "vocab_size", tuple(hidden.shape[:2]))
        if token_type_ids is not None:
            hidden = hidden + self.wte(token_type_ids)  # GPT-2 reuses wte for token types
        hidden = self.drop(hidden)

        mask = build_attention_mask(
            attention_mask, seq, past_length + seq, causal=True, dtype=hidden.dtype, device=hidden.device
        )  # (b|1, 1, s, p) or None

        all_hidden = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for block in self.h:
            if output_hidden_states:
                all_hidden += (hidden,)
            hidden, pattern = block(hidden, mask, past_key_values, output_attentions)
            if output_attentions:
                all_attentions += (pattern,)
        hidden = self.hook_final(self.ln_f(hidden))  # (b, s, d)
        if output_hidden_states:
            all_hidden += (hidden,)

        return BaseModelOutputWithPast(
            last_hidden_state=hidden,
            past_key_values=past_key_values if use_cache else None,
            hidden_states=all_hidden,
            attentions=all_attentions,
        )


class GPT2LMHeadModel(GenerationMixin, GPT2PreTrainedModel):
    """GPT-2 with a language-modelling head tied to the token embedding."""

    _tied_weights_keys = {"lm_head.weight": "transformer.wte.weight"}

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.transformer = GPT2Model(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.hook_logits = HookPoint("logits")  # (b, s, v)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def generation_position_limit(self) -> int:
        """GPT-2 learned one position vector per slot of its context window (``wpe``)."""
        return self.config.n_positions

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        past_key_values: KVCache | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        logits_to_keep: int = 0,
    ) -> CausalLMOutputWithPast:
        """``labels`` (b, s): the input ids themselves; the shift happens inside the loss.
        ``logits_to_keep``: compute logits for only the last n positions (0 = all)."""
        outputs = self.transformer(
            input_ids,
            past_key_values=past_key_values,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        hidden = outputs.last_hidden_state  # (b, s, d)
        if logits_to_keep:
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


class GPT2ForSequenceClassification(GenericForSequenceClassification, GPT2PreTrainedModel):
    """GPT-2 with a linear ``score`` head read at each sequence's last non-padding token
    (``hfexplain.heads``: the ``score`` runs at every position, ``class_logits`` (b, s, c)
    holds those scores, then each row's last real token is picked)."""

    base_model_class = GPT2Model


__all__ = [
    "GPT2Config",
    "GPT2Model",
    "GPT2LMHeadModel",
    "GPT2ForSequenceClassification",
    "GPT2PreTrainedModel",
]
