"""GPT-2 parity: random tiny configs saved by transformers load in hfexplain and agree."""
from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors.torch import load_file, save_file

import parity
from conftest import quiet_transformers

import hfexplain
from hfexplain.models.gpt2 import GPT2Config, GPT2ForSequenceClassification, GPT2LMHeadModel, GPT2Model

transformers = quiet_transformers()

ATOL = 1e-5

CONFIGS = {
    "plain": dict(n_embd=32, n_layer=2, n_head=4, vocab_size=99, n_positions=40),
    "odd": dict(
        n_embd=36, n_layer=3, n_head=3, n_inner=37, vocab_size=101, n_positions=33, activation_function="gelu",
        scale_attn_by_inverse_layer_idx=True, layer_norm_epsilon=1e-4,
    ),
    "unscaled-relu": dict(
        n_embd=24, n_layer=2, n_head=2, vocab_size=64, n_positions=20, activation_function="relu",
        scale_attn_weights=False, reorder_and_upcast_attn=True,
    ),
}
HEADS = {
    "GPT2Model": (transformers.GPT2Model, GPT2Model),
    "GPT2LMHeadModel": (transformers.GPT2LMHeadModel, GPT2LMHeadModel),
    "GPT2ForSequenceClassification": (transformers.GPT2ForSequenceClassification, GPT2ForSequenceClassification),
}


def save_reference(tmp_path, config_kwargs, ref_class, **extra):
    config = transformers.GPT2Config(
        **config_kwargs, bos_token_id=0, eos_token_id=0, pad_token_id=1, attn_implementation="eager", **extra
    )
    torch.manual_seed(1)
    ref = ref_class(config).eval()
    folder = tmp_path / "ref"
    ref.save_pretrained(folder)
    return ref, folder


def padded_batch(vocab_size, seq=9, pad_id=1, left=True):
    torch.manual_seed(2)
    ids = torch.randint(2, vocab_size, (3, seq))
    mask = torch.ones_like(ids)
    if left:
        mask[1, :4] = 0
        mask[2, :1] = 0
    else:
        mask[1, -4:] = 0
        mask[2, -1:] = 0
    ids = ids.masked_fill(mask == 0, pad_id)
    return ids, mask


# GPT-2 adds wte(token_type_ids) to its input: draw 3 token types to cover that path too.
@pytest.mark.parametrize("reference_class, our_class, config", parity.cases(
    [HEADS[head] for head in HEADS],
    {name: dict(kwargs, bos_token_id=0, eos_token_id=0, pad_token_id=1) for name, kwargs in CONFIGS.items()},
))
def test_parity_with_transformers(reference_class, our_class, config, tmp_path):
    """Logits / loss, every hidden state and attention, the aliases, greedy tokens with the KV cache
    on and off (LM head), and our save loading in transformers (tests/parity.py)."""
    report = parity.check_parity(reference_class, our_class, config, tmp_path, token_types=3)
    assert report.generated == (our_class is GPT2LMHeadModel)
    expected_head_alias = {GPT2Model: set(), GPT2LMHeadModel: {"logits"},
                           GPT2ForSequenceClassification: {"class_logits"}}[our_class]
    assert set(report.aliases) & {"logits", "class_logits"} == expected_head_alias


def test_loss_and_position_ids_match(tmp_path):
    ref, folder = save_reference(tmp_path, CONFIGS["odd"], transformers.GPT2LMHeadModel)
    ours = GPT2LMHeadModel.from_pretrained(folder)
    ids = torch.randint(2, 101, (2, 8))
    positions = torch.tensor([[3, 4, 5, 6, 7, 8, 9, 10], [0, 1, 2, 3, 4, 5, 6, 7]])
    with torch.no_grad():
        expected = ref(ids, position_ids=positions, labels=ids)
        got = ours(ids, position_ids=positions, labels=ids)
    torch.testing.assert_close(got.logits, expected.logits, atol=ATOL, rtol=0)
    torch.testing.assert_close(got.loss, expected.loss, atol=ATOL, rtol=0)


def test_fast_and_watched_paths_agree(tmp_path):
    _, folder = save_reference(tmp_path, CONFIGS["plain"], transformers.GPT2LMHeadModel)
    ours = GPT2LMHeadModel.from_pretrained(folder)
    ids, mask = padded_batch(99)
    with torch.no_grad():
        fast = ours(ids, attention_mask=mask).logits
        watched, cache = ours.run_with_cache(ids, attention_mask=mask, names_filter="pattern")
    assert set(cache) == {ours.hook_name("pattern", i) for i in range(2)}
    torch.testing.assert_close(watched.logits[mask.bool()], fast[mask.bool()], atol=1e-6, rtol=0)


@pytest.mark.parametrize("head", ["GPT2LMHeadModel", "GPT2ForSequenceClassification"])
def test_our_save_loads_in_transformers(tmp_path, head):
    """A model built (not loaded) by hfexplain: transformers reads it; the tied lm_head is not written."""
    ref_class, our_class = HEADS[head]
    config = GPT2Config(**CONFIGS["odd"], pad_token_id=1)
    torch.manual_seed(3)
    ours = our_class(config).eval()
    ours.save_pretrained(tmp_path / "ours")
    assert "lm_head.weight" not in load_file(tmp_path / "ours" / "model.safetensors")  # tied copy not saved
    ref = ref_class.from_pretrained(tmp_path / "ours").eval()
    ids, mask = padded_batch(101, left=head != "GPT2ForSequenceClassification")
    with torch.no_grad():
        expected = ref(ids, attention_mask=mask).logits
        got = ours(ids, attention_mask=mask).logits
    if got.dim() == 3:
        got, expected = got[mask.bool()], expected[mask.bool()]
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)
    # and back into hfexplain unchanged
    again = our_class.from_pretrained(tmp_path / "ours")
    for (name, a), (_, b) in zip(ours.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name


def test_sharded_save_round_trip_in_transformers(tmp_path):
    ours = GPT2LMHeadModel(GPT2Config(**CONFIGS["plain"])).eval()
    ours.save_pretrained(tmp_path / "sharded", max_shard_size="20KB")
    files = sorted(os.listdir(tmp_path / "sharded"))
    assert "model.safetensors.index.json" in files and sum(f.endswith(".safetensors") for f in files) > 1
    ref = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "sharded").eval()
    ids = torch.randint(0, 99, (1, 6))
    with torch.no_grad():
        torch.testing.assert_close(ours(ids).logits, ref(ids).logits, atol=ATOL, rtol=0)
    again = GPT2LMHeadModel.from_pretrained(tmp_path / "sharded")
    torch.testing.assert_close(again(ids).logits, ours(ids).logits)


def test_openai_layout_checkpoint_loads_without_noise(tmp_path):
    """The original GPT-2 files have no 'transformer.' prefix and carry attn.bias buffers."""
    ref, folder = save_reference(tmp_path, CONFIGS["plain"], transformers.GPT2Model)
    state = {k: v.clone() for k, v in load_file(folder / "model.safetensors").items()}
    state["h.0.attn.bias"] = torch.tril(torch.ones(1, 1, 40, 40))
    old = tmp_path / "old"
    old.mkdir()
    save_file(state, old / "model.safetensors", metadata={"format": "pt"})
    (old / "config.json").write_text((folder / "config.json").read_text())
    model, report = GPT2LMHeadModel.from_pretrained(old, output_loading_info=True)
    assert report["missing_keys"] == [] and report["unexpected_keys"] == []
    assert torch.equal(model.transformer.h[1].mlp.c_fc.weight, state["h.1.mlp.c_fc.weight"])
    assert model.lm_head.weight is model.transformer.wte.weight


def test_lm_checkpoint_into_classifier_warns_about_new_head(tmp_path):
    _, folder = save_reference(tmp_path, CONFIGS["plain"], transformers.GPT2LMHeadModel)
    with pytest.warns(UserWarning, match=r"newly initialised: \['score.weight'\]"):
        model, report = GPT2ForSequenceClassification.from_pretrained(folder, num_labels=4, output_loading_info=True)
    assert report["newly_initialized"] == ["score.weight"]
    assert model.score.weight.shape == (4, 32)


def test_missing_base_weight_is_an_error(tmp_path):
    _, folder = save_reference(tmp_path, CONFIGS["plain"], transformers.GPT2LMHeadModel)
    state = load_file(folder / "model.safetensors")
    del state["transformer.h.1.attn.c_proj.weight"]
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"lacks 1 weight.*transformer\.h\.1\.attn\.c_proj\.weight.*re-download"):
        GPT2LMHeadModel.from_pretrained(folder)


def test_wrong_shape_is_an_error_unless_ignored(tmp_path):
    _, folder = save_reference(tmp_path, CONFIGS["plain"], transformers.GPT2ForSequenceClassification, num_labels=2)
    with pytest.raises(ValueError, match=r"score\.weight: checkpoint \(2, 32\), model \(5, 32\).*ignore_mismatched_sizes"):
        GPT2ForSequenceClassification.from_pretrained(folder, num_labels=5)
    with pytest.warns(UserWarning, match="score.weight"):
        model = GPT2ForSequenceClassification.from_pretrained(folder, num_labels=5, ignore_mismatched_sizes=True)
    assert model.score.weight.shape == (5, 32)


def test_dtype_argument(tmp_path):
    _, folder = save_reference(tmp_path, CONFIGS["plain"], transformers.GPT2LMHeadModel)
    model = GPT2LMHeadModel.from_pretrained(folder, torch_dtype=torch.bfloat16)
    assert model.dtype == torch.bfloat16
    assert GPT2LMHeadModel.from_pretrained(folder, dtype="float32").dtype == torch.float32
    with pytest.raises(ValueError, match="not a torch dtype"):
        GPT2LMHeadModel.from_pretrained(folder, dtype="float33")


def test_input_longer_than_positions_is_a_clear_error():
    model = GPT2LMHeadModel(GPT2Config(**CONFIGS["plain"])).eval()
    with pytest.raises(ValueError, match=r"only 40 \(n_positions\).*truncation=True, max_length=40"):
        model(torch.zeros(1, 41, dtype=torch.long))


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (torch.zeros(1, 5), TypeError, r"integer token ids.*input_ids\.long\(\)"),
        (torch.zeros(5, dtype=torch.long), ValueError, r"shape \(batch, seq\).*unsqueeze\(0\)"),
        ([[1, 2, 3]], TypeError, r"torch\.Tensor.*return_tensors='pt'"),
        (torch.full((1, 3), 500), ValueError, r"outside the vocabulary \[0, 99\)"),
    ],
)
def test_bad_input_ids(bad, error, message):
    model = GPT2LMHeadModel(GPT2Config(**CONFIGS["plain"])).eval()
    with pytest.raises(error, match=message):
        model(bad)


def test_config_round_trip_keeps_unknown_keys_and_loads_in_transformers(tmp_path):
    config = GPT2Config(n_embd=32, n_layer=2, n_head=4, my_note="kept", id2label={0: "neg", 1: "pos"})
    config.save_pretrained(tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["my_note"] == "kept" and data["model_type"] == "gpt2"
    again = GPT2Config.from_pretrained(tmp_path)
    assert again == config and again.hidden_size == 32 and again.id2label == {0: "neg", 1: "pos"}
    ref = transformers.GPT2Config.from_pretrained(tmp_path)
    assert (ref.n_embd, ref.n_layer, ref.id2label) == (32, 2, {0: "neg", 1: "pos"})


def test_import_is_light():
    import subprocess
    import sys

    code = (
        "import sys, hfexplain; from hfexplain import GPT2LMHeadModel, AutoModel; "
        "heavy = [m for m in ('transformers', 'datasets', 'ipywidgets', 'plotly') if m in sys.modules]; "
        "print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    assert hfexplain.__version__


def test_num_labels_override_replaces_stored_label_names(tmp_path):
    _, folder = save_reference(
        tmp_path, CONFIGS["plain"], transformers.GPT2ForSequenceClassification,
        id2label={0: "neg", 1: "neu", 2: "pos"},
    )
    with pytest.warns(UserWarning, match="score.weight"):
        model = GPT2ForSequenceClassification.from_pretrained(folder, num_labels=5, ignore_mismatched_sizes=True)
    assert model.config.id2label == {i: f"LABEL_{i}" for i in range(5)}
    kept = GPT2ForSequenceClassification.from_pretrained(folder, num_labels=3)
    assert kept.config.id2label == {0: "neg", 1: "neu", 2: "pos"}


def test_saved_files_are_readable_by_others(tmp_path):
    """Temporary files for atomic writes start as 0600; the saved checkpoint must not stay private."""
    model = GPT2LMHeadModel(GPT2Config(**CONFIGS["plain"]))
    model.save_pretrained(tmp_path / "shared")
    umask = os.umask(0)
    os.umask(umask)
    for name in os.listdir(tmp_path / "shared"):
        mode = os.stat(tmp_path / "shared" / name).st_mode & 0o777
        assert mode == 0o666 & ~umask, (name, oct(mode))


def test_task_model_initialises_each_weight_once():
    """A head model builds its bare model first; post_init must not draw those weights again."""
    config = GPT2Config(**CONFIGS["plain"])
    torch.manual_seed(5)
    bare = GPT2Model(config)
    torch.manual_seed(5)
    with_head = GPT2LMHeadModel(config)
    for name, tensor in bare.state_dict().items():
        assert torch.equal(with_head.transformer.state_dict()[name], tensor), name
    std = config.initializer_range / (2 * config.n_layer) ** 0.5  # GPT-2's scaled residual init survives
    assert abs(float(with_head.transformer.h[0].mlp.c_proj.weight.detach().std()) - std) < std * 0.2
