"""GPT-J (Wang & Komatsuzaki, 2021), with Hugging Face's module tree and parameter names.

    tokens ─► wte ─► drop ─► [ block × n_layer ] ─► ln_f ─► lm_head ─► logits
                                 ▲
             sin, cos of position_ids (rotary_dim / 2 angles), shared by every layer

    block:  x ─► ln_1 ─┬─► attn ─┐
                       └─► mlp ──┴─► (+x) ─►      (attention and MLP side by side)

What changed since GPT-Neo (its EleutherAI sibling), and where to look:

* **No position table.** Positions enter inside attention as rotary embeddings (as in
  LLaMA, ``hfexplain/layers/rotary.py``), but only **partially**: the first ``rotary_dim``
  dimensions of each query and key head turn, the other ``e - rotary_dim`` pass through.
* **Interleaved rotation** (:func:`rotate_every_two`): pair i is the neighbours
  ``(x[2i], x[2i + 1])``, where LLaMA / GPT-NeoX pair ``x[i]`` with ``x[i + r/2]``
  (``rotate_half``). Same angles, other layout: the checkpoints fix which one.
* **A parallel block**: one ``ln_1`` feeds both attention and the MLP, and both outputs
  are added to the residual at once, ``x + attn(ln_1(x)) + mlp(ln_1(x))``. There is no
  ``ln_2`` and no residual stream between them (no ``resid_mid`` hook).
* Scores are scaled by 1/sqrt(e) again, every layer is global (no local window),
  ``out_proj`` has no bias, the MLP is ``fc_in`` / ``fc_out``, and ``lm_head`` has a bias
  and is not tied to ``wte`` (``tie_word_embeddings=False``).
* Config names are GPT-2's (``n_embd``, ``n_layer``, ``n_head``, ``n_inner``, ``n_positions``).

Shapes: b=batch, s=sequence (new positions), p=past+new positions, d=n_embd, h=n_head,
e=d/h (head dim), r=rotary_dim, m=n_inner (4d by default), v=vocab_size.
"""
from __future__ import annotations

import torch
from torch import nn

from ..configuration import PretrainedConfig, check_divisible
from ..generation import GenerationMixin
from ..heads import (
    GenericForQuestionAnswering,
    GenericForSequenceClassification,
    causal_lm_loss,
    check_model_inputs,
    check_token_type_ids,
)
from ..hooks import HookPoint
from ..layers import KVCache, attend, build_attention_mask, get_activation
from ..layers.rotary import default_inverse_frequencies
from ..modeling import PreTrainedModel
from ..outputs import BaseModelOutputWithPast, CausalLMOutputWithPast

ROPE_THETA = 10_000.0  # fixed in GPT-J (no config field)


class GPTJConfig(PretrainedConfig):
    """GPT-J's hyper-parameters, with transformers' names and defaults (GPT-J 6B).

    ``rotary_dim`` (r): how many dimensions of each head turn; even and at most the head
    size ``n_embd / n_head`` (equal to it to turn the whole head).
    """

    model_type = "gptj"
    attribute_map = {
        "max_position_embeddings": "n_positions",
        "hidden_size": "n_embd",
        "num_attention_heads": "n_head",
        "num_hidden_layers": "n_layer",
    }

    def __init__(
        self,
        vocab_size: int = 50400,
        n_positions: int = 2048,
        n_embd: int = 4096,
        n_layer: int = 28,
        n_head: int = 16,
        rotary_dim: int = 64,
        n_inner: int | None = None,
        activation_function: str = "gelu_new",
        resid_pdrop: float = 0.0,
        embd_pdrop: float = 0.0,
        attn_pdrop: float = 0.0,
        layer_norm_epsilon: float = 1e-5,
        initializer_range: float = 0.02,
        use_cache: bool = True,
        bos_token_id: int | None = 50256,
        eos_token_id: int | None = 50256,
        pad_token_id: int | None = None,
        tie_word_embeddings: bool = False,
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.n_positions = n_positions
        self.n_embd = n_embd
        self.n_layer = n_layer
        self.n_head = n_head
        self.rotary_dim = rotary_dim
        self.n_inner = n_inner
        self.activation_function = activation_function
        self.resid_pdrop = resid_pdrop
        self.embd_pdrop = embd_pdrop
        self.attn_pdrop = attn_pdrop
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        self.use_cache = use_cache

        check_divisible("n_embd", n_embd, "n_head", n_head, "each head gets n_embd / n_head dimensions.")
        head_dim = n_embd // n_head
        if not isinstance(rotary_dim, int) or isinstance(rotary_dim, bool):
            raise TypeError(
                f"rotary_dim must be an int (as in transformers), got {rotary_dim!r}; to turn the whole head "
                f"use the head size n_embd / n_head = {head_dim}."
            )
        if rotary_dim > head_dim:
            raise ValueError(
                f"rotary_dim ({rotary_dim}) is larger than the head size n_embd / n_head = {n_embd} / {n_head} "
                f"= {head_dim}: rotary turns part of each head, so use at most {head_dim}."
            )
        if rotary_dim % 2 or rotary_dim < 2:
            raise ValueError(
                f"rotary_dim ({rotary_dim}) must be a positive even number: the rotation turns pairs of "
                f"neighbouring dimensions, e.g. {max(rotary_dim - 1, 2)} or {max(rotary_dim + 1, 2)}."
            )
        super().__init__(
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            pad_token_id=pad_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )


def rotate_every_two(x: torch.Tensor) -> torch.Tensor:
    """A quarter turn of every neighbour pair: (x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...)."""
    even, odd = x[..., 0::2], x[..., 1::2]  # (..., r/2) each
    return torch.stack((-odd, even), dim=-1).flatten(-2)  # (..., r/2, 2) -> (..., r)


def apply_interleaved_rotary_pos_emb(x: torch.Tensor, sin: torch.Tensor, cos: torch.Tensor) -> torch.Tensor:
    """Turn the first r dims of queries or keys x (b, h, s, e) by the angles behind sin, cos (b|1, s, r/2).

    Pair i is (x[2i], x[2i + 1]); both members turn by angle i, so each angle is repeated
    twice in place (``repeat_interleave``), not concatenated as for ``rotate_half``.
    """
    sin = sin.repeat_interleave(2, dim=-1)[:, None]  # (b|1, 1, s, r): the same rotation for every head
    cos = cos.repeat_interleave(2, dim=-1)[:, None]
    rotary_dim = sin.shape[-1]
    turned, passed = x[..., :rotary_dim], x[..., rotary_dim:]  # (b, h, s, r), (b, h, s, e - r)
    return torch.cat((turned * cos + rotate_every_two(turned) * sin, passed), dim=-1)  # (b, h, s, e)


class GPTJAttention(nn.Module):
    """Causal multi-head self-attention with partial, interleaved rotary positions."""

    def __init__(self, config: GPTJConfig, layer_idx: int):
        super().__init__()
        self.layer_idx = layer_idx
        self.embed_dim = config.n_embd
        self.num_heads = config.n_head
        self.head_dim = self.embed_dim // self.num_heads
        self.rotary_dim = config.rotary_dim
        self.scaling = self.head_dim**-0.5

        self.k_proj = nn.Linear(self.embed_dim, self.embed_dim, bias=False)
        self.v_proj = nn.Linear(self.embed_dim, self.embed_dim, bias=False)
        self.q_proj = nn.Linear(self.embed_dim, self.embed_dim, bias=False)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim, bias=False)
        self.attn_dropout = nn.Dropout(config.attn_pdrop)
        self.resid_dropout = nn.Dropout(config.resid_pdrop)

        self.hook_q_pre_rotary = HookPoint()  # (b, h, s, e) queries before the rotation
        self.hook_k_pre_rotary = HookPoint()  # (b, h, s, e) keys before the rotation
        self.hook_q = HookPoint("q", layer_idx)  # (b, h, s, e) after rotary (first r dims turned)
        self.hook_k = HookPoint("k", layer_idx)  # (b, h, s, e) after rotary: what the KV cache stores
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
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
        past_key_values: KVCache | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, seq, _ = hidden_states.shape  # (b, s, d)
        query = self.hook_q_pre_rotary(self._split_heads(self.q_proj(hidden_states)))  # (b, h, s, e)
        key = self.hook_k_pre_rotary(self._split_heads(self.k_proj(hidden_states)))  # (b, h, s, e)
        value = self.hook_v(self._split_heads(self.v_proj(hidden_states)))  # (b, h, s, e)

        sin, cos = position_embeddings  # (b|1, s, r/2) each
        query = self.hook_q(apply_interleaved_rotary_pos_emb(query, sin, cos))  # (b, h, s, e)
        key = self.hook_k(apply_interleaved_rotary_pos_emb(key, sin, cos))  # (b, h, s, e)
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


# Copied from hfexplain.models.gpt_neo.GPTNeoMLP with GPTNeo->GPTJ, c_fc->fc_in, c_proj->fc_out, hidden_size->n_embd, resid_dropout->resid_pdrop
class GPTJMLP(nn.Module):
    """Position-wise feed-forward: d -> m -> activation -> d (``nn.Linear``, not GPT-2's Conv1D)."""

    def __init__(self, intermediate_size: int, config: GPTJConfig, layer_idx: int):
        super().__init__()
        self.fc_in = nn.Linear(config.n_embd, intermediate_size)
        self.fc_out = nn.Linear(intermediate_size, config.n_embd)
        self.act = get_activation(config.activation_function)
        self.dropout = nn.Dropout(config.resid_pdrop)
        self.hook_pre = HookPoint("mlp_pre", layer_idx)  # (b, s, m)
        self.hook_post = HookPoint("mlp_post", layer_idx)  # (b, s, m)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        pre = self.hook_pre(self.fc_in(hidden_states))  # (b, s, m)
        post = self.hook_post(self.act(pre))  # (b, s, m)
        return self.dropout(self.fc_out(post))  # (b, s, d)


class GPTJBlock(nn.Module):
    """One parallel block: x + attn(ln_1(x)) + mlp(ln_1(x)), one norm for both."""

    def __init__(self, config: GPTJConfig, layer_idx: int):
        super().__init__()
        inner_dim = config.n_inner if config.n_inner is not None else 4 * config.n_embd
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = GPTJAttention(config, layer_idx)
        self.mlp = GPTJMLP(inner_dim, config, layer_idx)

        self.hook_resid_pre = HookPoint("resid_pre", layer_idx)  # (b, s, d)
        self.hook_attn_out = HookPoint("attn_out", layer_idx)  # (b, s, d)
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
        normed = self.ln_1(resid)  # (b, s, d): read by both branches
        attn_out, pattern = self.attn(normed, position_embeddings, mask, past_key_values, output_attentions)
        attn_out = self.hook_attn_out(attn_out)  # (b, s, d)
        mlp_out = self.hook_mlp_out(self.mlp(normed))  # (b, s, d)
        return self.hook_resid_post(attn_out + mlp_out + resid), pattern  # transformers' order of the sum


class GPTJPreTrainedModel(PreTrainedModel):
    config_class = GPTJConfig
    base_model_prefix = "transformer"
    # Older checkpoints saved the causal mask as buffers; we build masks on the fly.
    _keys_to_ignore_on_load_unexpected = [r"attn\.bias$", r"attn\.masked_bias$"]


class GPTJModel(GPTJPreTrainedModel):
    """The bare GPT-J: token ids -> last hidden state (after ``ln_f``)."""

    _final_norm = "ln_f"  # the norm after the last block (ActivationCache.apply_final_norm)

    def __init__(self, config: GPTJConfig):
        super().__init__(config)
        self.embed_dim = config.n_embd
        self.wte = nn.Embedding(config.vocab_size, self.embed_dim)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = nn.ModuleList([GPTJBlock(config, layer_idx=i) for i in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_epsilon)
        # (r/2,) the speed of each pair's clock; recomputed, never saved (as transformers' table)
        self.register_buffer("inv_freq", default_inverse_frequencies(config.rotary_dim, ROPE_THETA), persistent=False)
        self.hook_embed = HookPoint("embed")  # (b, s, d)
        self.hook_final = HookPoint("final")  # (b, s, d)
        self.post_init()

    # Copied from hfexplain.models.gpt2.GPT2Model.get_input_embeddings
    def get_input_embeddings(self) -> nn.Embedding:
        return self.wte

    # Copied from hfexplain.models.gpt2.GPT2Model.set_input_embeddings
    def set_input_embeddings(self, embeddings: nn.Embedding) -> None:
        self.wte = embeddings

    def rotary_angles(self, position_ids: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """sin, cos (b|1, s, r/2) of ``position * inv_freq``: one angle per pair and position."""
        angles = position_ids[..., None].float() * self.inv_freq.to(position_ids.device)  # (b|1, s, r/2)
        return angles.sin().to(dtype), angles.cos().to(dtype)

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
        """``position_ids`` (b|1, s): each new token's position; by default past, past+1, ...
        Left-padded batches should pass them (``attention_mask.cumsum(-1) - 1``), as ``generate`` does."""
        config = self.config
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        use_cache = (config.use_cache and not self.training) if use_cache is None else use_cache
        if use_cache and past_key_values is None:
            past_key_values = KVCache()
        past_length = past_key_values.get_seq_length() if past_key_values is not None else 0

        # No length limit here: rotary angles exist for every position (transformers' table stops at n_positions).
        batch, seq = check_model_inputs(
            input_ids, inputs_embeds, vocab_size=config.vocab_size, hidden_size=config.n_embd,
            position_ids=position_ids,
        )
        if input_ids is not None:
            inputs_embeds = self.wte(input_ids)  # (b, s, d)
        if position_ids is None:
            position_ids = torch.arange(past_length, past_length + seq, device=inputs_embeds.device)[None]  # (1, s)

        hidden = self.hook_embed(inputs_embeds)  # (b, s, d): no position vector is added
        check_token_type_ids(token_type_ids, config.vocab_size, "vocab_size", tuple(hidden.shape[:2]))
        if token_type_ids is not None:
            hidden = hidden + self.wte(token_type_ids)  # as GPT-2: token types reuse wte
        hidden = self.drop(hidden)
        position_embeddings = self.rotary_angles(position_ids, hidden.dtype)  # sin, cos: (b|1, s, r/2)
        mask = build_attention_mask(  # transformers' GPT-J attention is eager: unattended rows stay uniform
            attention_mask, seq, past_length + seq, causal=True, dtype=hidden.dtype, device=hidden.device,
            fully_masked_rows="uniform",
        )  # (b|1, 1, s, p) or None

        all_hidden = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for block in self.h:
            if output_hidden_states:
                all_hidden += (hidden,)
            hidden, pattern = block(hidden, position_embeddings, mask, past_key_values, output_attentions)
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


class GPTJForCausalLM(GenerationMixin, GPTJPreTrainedModel):
    """GPT-J with a language-modelling head (with a bias; untied unless ``tie_word_embeddings``).

    No ``generation_position_limit``: rotary positions have no table to run out of.
    """

    _tied_weights_keys = {"lm_head.weight": "transformer.wte.weight"}

    def __init__(self, config: GPTJConfig):
        super().__init__(config)
        self.transformer = GPTJModel(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size)
        self.hook_logits = HookPoint("logits")  # (b, s, v)
        self.post_init()

    # Copied from hfexplain.models.gpt2.GPT2LMHeadModel.get_output_embeddings
    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

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


class GPTJForSequenceClassification(GenericForSequenceClassification, GPTJPreTrainedModel):
    """As GPT-2's: a ``score`` (no bias) read at each row's last non-padding token."""

    base_model_class = GPTJModel


class GPTJForQuestionAnswering(GenericForQuestionAnswering, GPTJPreTrainedModel):
    """Answer start and end scores per token (``qa_outputs``), on the bare model at ``transformer``."""

    base_model_class = GPTJModel


__all__ = [
    "GPTJConfig",
    "GPTJModel",
    "GPTJForCausalLM",
    "GPTJForSequenceClassification",
    "GPTJForQuestionAnswering",
    "GPTJPreTrainedModel",
    "rotate_every_two",
    "apply_interleaved_rotary_pos_emb",
]
