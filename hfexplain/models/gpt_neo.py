"""GPT-Neo (EleutherAI, 2021), with Hugging Face's module tree and parameter names.

    tokens ─► wte + wpe ─► drop ─► [ block × num_layers ] ─► ln_f ─► lm_head ─► logits

    block:  x ─► ln_1 ─► attn (global or local) ─► (+x) ─► ln_2 ─► mlp ─► (+) ─►

What changed since GPT-2, and where to look:

* **Local attention in every other layer.** ``attention_types`` (``[[["global", "local"], 12]]``:
  the pattern ``global, local`` repeated 12 times) says, layer by layer, whether a query
  sees every earlier key (``global``, GPT-2's causal mask) or only the last ``window_size``
  keys, itself included (``local``: a sliding window, :func:`local_attention_mask`).
* **No 1/sqrt(e) scaling** of the attention scores (``GPTNeoSelfAttention.scaling = 1.0``):
  the original Mesh-TensorFlow code left it out and the checkpoints were trained that way.
* **Separate q/k/v projections without biases** (``q_proj``, ``k_proj``, ``v_proj``; only
  ``out_proj`` has one) and ``nn.Linear`` layers (weight (out, in)) instead of GPT-2's
  fused ``Conv1D`` ``c_attn`` (weight (in, out)); the attention sits one level deeper,
  ``attn.attention``, as in Hugging Face's tree.
* Config names: ``hidden_size``, ``num_layers``, ``num_heads``, ``intermediate_size``,
  ``max_position_embeddings``; dropout defaults to 0. The block, the learned positions,
  the tied ``lm_head`` and the sequence-classification head are GPT-2's.

Shapes: b=batch, s=sequence (new positions), p=past+new positions, d=hidden_size,
h=num_heads, e=d/h (head dim), m=intermediate_size (4d by default), v=vocab_size,
w=window_size.
"""
from __future__ import annotations

import torch
from torch import nn

from ..configuration import PretrainedConfig, check_divisible
from ..generation import GenerationMixin
from ..heads import GenericForSequenceClassification, causal_lm_loss, check_model_inputs, check_token_type_ids
from ..hooks import HookPoint
from ..layers import KVCache, attend, build_attention_mask, get_activation
from ..modeling import PreTrainedModel
from ..outputs import BaseModelOutputWithPast, CausalLMOutputWithPast

ATTENTION_TYPES = ("global", "local")


def expand_attention_types(attention_types) -> list[str]:
    """``[[["global", "local"], 2], [["global"], 1]]`` -> ``["global", "local", "global", "local", "global"]``."""
    layers: list[str] = []
    for item in attention_types:
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], (list, tuple))
                and isinstance(item[1], int)):
            raise ValueError(
                f"each entry of attention_types must be [[types...], repeats], e.g. [['global', 'local'], 12]; "
                f"got {item!r}."
            )
        types, repeats = item
        layers.extend(list(types) * repeats)
    return layers


class GPTNeoConfig(PretrainedConfig):
    """GPT-Neo's hyper-parameters, with transformers' names and defaults (GPT-Neo 1.3B)."""

    model_type = "gpt_neo"
    attribute_map = {"num_attention_heads": "num_heads", "num_hidden_layers": "num_layers"}

    def __init__(
        self,
        vocab_size: int = 50257,
        max_position_embeddings: int = 2048,
        hidden_size: int = 2048,
        num_layers: int = 24,
        attention_types: list | None = None,
        num_heads: int = 16,
        intermediate_size: int | None = None,
        window_size: int = 256,
        activation_function: str = "gelu_new",
        resid_dropout: float = 0.0,
        embed_dropout: float = 0.0,
        attention_dropout: float = 0.0,
        classifier_dropout: float = 0.1,
        layer_norm_epsilon: float = 1e-5,
        initializer_range: float = 0.02,
        use_cache: bool = True,
        bos_token_id: int | None = 50256,
        eos_token_id: int | None = 50256,
        pad_token_id: int | None = None,
        tie_word_embeddings: bool = True,
        attention_layers: list[str] | None = None,
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.max_position_embeddings = max_position_embeddings
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.attention_types = [[["global", "local"], 12]] if attention_types is None else attention_types
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.window_size = window_size
        self.activation_function = activation_function
        self.resid_dropout = resid_dropout
        self.embed_dropout = embed_dropout
        self.attention_dropout = attention_dropout
        self.classifier_dropout = classifier_dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.use_cache = use_cache
        # One entry per layer, always recomputed from attention_types (a saved copy is ignored).
        self.attention_layers = expand_attention_types(self.attention_types)

        if len(self.attention_layers) != num_layers:
            raise ValueError(
                f"attention_types {self.attention_types!r} expands to {len(self.attention_layers)} layers, but "
                f"num_layers is {num_layers}: each [[types...], repeats] entry gives len(types) * repeats layers. "
                f"Change the repeats (e.g. [[['global', 'local'], {max(num_layers // 2, 1)}]] for an even "
                "num_layers) or num_layers so that they agree."
            )
        unknown = sorted(set(self.attention_layers) - set(ATTENTION_TYPES))
        if unknown:
            raise ValueError(f"attention_types names {unknown}; each layer's type must be 'global' or 'local'.")
        check_divisible("hidden_size", hidden_size, "num_heads", num_heads,
                        "each head gets hidden_size / num_heads dimensions.")
        if window_size < 1:
            raise ValueError(f"window_size must be at least 1 (a query always sees itself), got {window_size}.")
        super().__init__(
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            pad_token_id=pad_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )


def local_attention_mask(
    mask: torch.Tensor | None, q_len: int, k_len: int, window_size: int, *, dtype: torch.dtype, device: torch.device
) -> torch.Tensor | None:
    """GPT-2's causal (+ padding) additive mask, narrowed to a sliding window.

    Query i (at absolute position ``i + k_len - q_len``, as in :func:`causal_mask`) keeps
    the keys j with ``0 <= position(i) - j < window_size``: itself and the ``w - 1`` before it.
    """
    offset = k_len - q_len
    query_pos = torch.arange(q_len, device=device)[:, None] + offset  # (s, 1)
    key_pos = torch.arange(k_len, device=device)[None, :]  # (1, p)
    too_far = (query_pos - key_pos) >= window_size  # (s, p)
    if not bool(too_far.any()):
        return mask
    if mask is None:
        mask = torch.zeros(1, 1, q_len, k_len, dtype=dtype, device=device)  # (1, 1, s, p)
    # As transformers' eager attention: a key outside the window is the most negative value, or -inf
    # where it was masked already (padding), so a query that sees only padding is uniform over its window.
    outside = torch.where(mask < 0, float("-inf"), torch.finfo(dtype).min).to(dtype)  # (b|1, 1, s, p)
    return torch.where(too_far, outside, mask)  # (b|1, 1, s, p)


class GPTNeoSelfAttention(nn.Module):
    """Causal multi-head self-attention, global or local, with unscaled scores."""

    def __init__(self, config: GPTNeoConfig, attention_type: str, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.attention_type = attention_type  # "global" or "local": which mask this layer reads
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_heads
        self.head_dim = self.embed_dim // self.num_heads
        self.scaling = 1.0  # no 1/sqrt(e): GPT-Neo was trained without it

        self.k_proj = nn.Linear(self.embed_dim, self.embed_dim, bias=False)
        self.v_proj = nn.Linear(self.embed_dim, self.embed_dim, bias=False)
        self.q_proj = nn.Linear(self.embed_dim, self.embed_dim, bias=False)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim, bias=True)
        self.attn_dropout = nn.Dropout(config.attention_dropout)
        self.resid_dropout = nn.Dropout(config.resid_dropout)

        self.hook_q = HookPoint("q", layer_idx)  # (b, h, s, e)
        self.hook_k = HookPoint("k", layer_idx)  # (b, h, s, e)
        self.hook_v = HookPoint("v", layer_idx)  # (b, h, s, e)
        self.hook_scores = HookPoint("scores", layer_idx)  # (b, h, s, p)
        self.hook_pattern = HookPoint("pattern", layer_idx)  # (b, h, s, p)
        self.hook_z = HookPoint("z", layer_idx)  # (b, h, s, e)

    # Copied from hfexplain.models.gpt2.GPT2Attention._split_heads
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
        """``mask``: the additive mask of this layer's type (global, or local for a window)."""
        batch, seq, _ = hidden_states.shape  # (b, s, d)
        query = self.hook_q(self._split_heads(self.q_proj(hidden_states)))  # (b, h, s, e)
        key = self.hook_k(self._split_heads(self.k_proj(hidden_states)))  # (b, h, s, e)
        value = self.hook_v(self._split_heads(self.v_proj(hidden_states)))  # (b, h, s, e)
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
        out = self.resid_dropout(self.out_proj(merged))  # (b, s, d)
        return out, pattern


class GPTNeoAttention(nn.Module):
    """Hugging Face's wrapper level (``attn.attention``): picks this layer's attention type."""

    def __init__(self, config: GPTNeoConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.attention_type = config.attention_layers[layer_idx]
        self.attention = GPTNeoSelfAttention(config, self.attention_type, layer_idx)

    def forward(
        self,
        hidden_states: torch.Tensor,
        mask: torch.Tensor | None,
        past_key_values: KVCache | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.attention(hidden_states, mask, past_key_values, output_attentions)


class GPTNeoMLP(nn.Module):
    """Position-wise feed-forward: d -> m -> activation -> d (``nn.Linear``, not GPT-2's Conv1D)."""

    def __init__(self, intermediate_size: int, config: GPTNeoConfig, layer_idx: int):
        super().__init__()
        self.c_fc = nn.Linear(config.hidden_size, intermediate_size)
        self.c_proj = nn.Linear(intermediate_size, config.hidden_size)
        self.act = get_activation(config.activation_function)
        self.dropout = nn.Dropout(config.resid_dropout)
        self.hook_pre = HookPoint("mlp_pre", layer_idx)  # (b, s, m)
        self.hook_post = HookPoint("mlp_post", layer_idx)  # (b, s, m)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        pre = self.hook_pre(self.c_fc(hidden_states))  # (b, s, m)
        post = self.hook_post(self.act(pre))  # (b, s, m)
        return self.dropout(self.c_proj(post))  # (b, s, d)


# Copied from hfexplain.models.gpt2.GPT2Block with GPT2->GPTNeo, n_inner->intermediate_size, n_embd->hidden_size
class GPTNeoBlock(nn.Module):
    """One pre-norm transformer block: x + attn(ln_1(x)), then + mlp(ln_2(.))."""

    def __init__(self, config: GPTNeoConfig, layer_idx: int):
        super().__init__()
        inner_dim = config.intermediate_size if config.intermediate_size is not None else 4 * config.hidden_size
        self.ln_1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.attn = GPTNeoAttention(config, layer_idx)
        self.ln_2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.mlp = GPTNeoMLP(inner_dim, config, layer_idx)

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


class GPTNeoPreTrainedModel(PreTrainedModel):
    config_class = GPTNeoConfig
    base_model_prefix = "transformer"
    # Older checkpoints saved the causal / local masks as buffers; we build masks on the fly.
    _keys_to_ignore_on_load_unexpected = [r"attn\.attention\.bias$", r"attn\.attention\.masked_bias$"]


class GPTNeoModel(GPTNeoPreTrainedModel):
    """The bare GPT-Neo: token ids -> last hidden state (after ``ln_f``)."""

    _final_norm = "ln_f"  # the norm after the last block (ActivationCache.apply_final_norm)

    def __init__(self, config: GPTNeoConfig):
        super().__init__(config)
        self.embed_dim = config.hidden_size
        self.wte = nn.Embedding(config.vocab_size, self.embed_dim)
        self.wpe = nn.Embedding(config.max_position_embeddings, self.embed_dim)
        self.drop = nn.Dropout(config.embed_dropout)
        self.h = nn.ModuleList([GPTNeoBlock(config, layer_idx=i) for i in range(config.num_layers)])
        self.ln_f = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_epsilon)
        self.hook_embed = HookPoint("embed")  # (b, s, d)
        self.hook_pos_embed = HookPoint("pos_embed")  # (b|1, s, d)
        self.hook_final = HookPoint("final")  # (b, s, d)
        self.post_init()

    # Copied from hfexplain.models.gpt2.GPT2Model.get_input_embeddings
    def get_input_embeddings(self) -> nn.Embedding:
        return self.wte

    # Copied from hfexplain.models.gpt2.GPT2Model.set_input_embeddings
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
            input_ids, inputs_embeds, vocab_size=config.vocab_size, hidden_size=config.hidden_size,
            position_ids=position_ids, past_length=past_length, max_positions=config.max_position_embeddings,
            family="GPT-Neo",
        )
        if input_ids is not None:
            inputs_embeds = self.wte(input_ids)  # (b, s, d)
        if position_ids is None:
            position_ids = torch.arange(past_length, past_length + seq, device=inputs_embeds.device)[None]  # (1, s)

        hidden = self.hook_embed(inputs_embeds) + self.hook_pos_embed(self.wpe(position_ids))  # (b, s, d)
        check_token_type_ids(token_type_ids, config.vocab_size, "vocab_size", tuple(hidden.shape[:2]))
        if token_type_ids is not None:
            hidden = hidden + self.wte(token_type_ids)  # as GPT-2: token types reuse wte
        hidden = self.drop(hidden)

        # Two masks, built once: every "global" layer reads the first, every "local" one the second.
        total = past_length + seq
        global_mask = build_attention_mask(  # transformers' GPT-Neo attention is eager: unattended rows stay uniform
            attention_mask, seq, total, causal=True, dtype=hidden.dtype, device=hidden.device,
            fully_masked_rows="causal-uniform",
        )  # (b|1, 1, s, p) or None
        masks = {
            "global": global_mask,
            "local": local_attention_mask(global_mask, seq, total, config.window_size,
                                          dtype=hidden.dtype, device=hidden.device),  # (b|1, 1, s, p) or None
        }

        all_hidden = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for block in self.h:
            if output_hidden_states:
                all_hidden += (hidden,)
            hidden, pattern = block(hidden, masks[block.attn.attention_type], past_key_values, output_attentions)
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


class GPTNeoForCausalLM(GenerationMixin, GPTNeoPreTrainedModel):
    """GPT-Neo with a language-modelling head tied to the token embedding."""

    _tied_weights_keys = {"lm_head.weight": "transformer.wte.weight"}

    def __init__(self, config: GPTNeoConfig):
        super().__init__(config)
        self.transformer = GPTNeoModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.hook_logits = HookPoint("logits")  # (b, s, v)
        self.post_init()

    # Copied from hfexplain.models.gpt2.GPT2LMHeadModel.get_output_embeddings
    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def generation_position_limit(self) -> int:
        """GPT-Neo learned one position vector per slot of its context window (``wpe``)."""
        return self.config.max_position_embeddings

    # Copied from hfexplain.models.gpt2.GPT2LMHeadModel.forward
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


class GPTNeoForSequenceClassification(GenericForSequenceClassification, GPTNeoPreTrainedModel):
    """As GPT-2's: a ``score`` (no bias) read at each row's last non-padding token."""

    base_model_class = GPTNeoModel


__all__ = [
    "GPTNeoConfig",
    "GPTNeoModel",
    "GPTNeoForCausalLM",
    "GPTNeoForSequenceClassification",
    "GPTNeoPreTrainedModel",
    "local_attention_mask",
]
