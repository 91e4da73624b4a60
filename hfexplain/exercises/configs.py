"""Checkers for lesson 06 (configs and the Auto registry).

Two exercises:

``check_toy_family(ToyMLPConfig, ToyMLPModel)`` checks a family of one's own, end to end,
the way a user would meet it: it registers the two classes with
:func:`hfexplain.register`, builds a model through ``AutoModel.from_config``, saves it
with ``save_pretrained``, loads it back through ``AutoModel.from_pretrained`` and compares
weights and logits. Each step that fails is named with its fix (``model_type`` missing or
wrong, ``attribute_map`` missing, ``config_class`` not set, ``__init__`` without
``**kwargs``, weights that do not survive the round trip ...)::

    class ToyMLPConfig(PretrainedConfig):       # model_type "toy-mlp"; fields vocab_size, n_embd;
        ...                                     # config.hidden_size reads and writes n_embd
    class ToyMLPModel(PreTrainedModel):         # input_ids (b, s) -> logits (b, s, vocab_size)
        ...

``check_auto_predictions({"a": "GPT2LMHeadModel", ...})`` checks predictions of the class
an Auto class picks for the config.json files in :data:`AUTO_QUIZ` (or ``"ValueError"``
when it refuses). The truth is computed by running hfexplain's own Auto classes on those
files, and every wrong answer comes with the reason.
"""
from __future__ import annotations

import json
import os
import tempfile

import torch

from . import CheckResult, compare_tensors
from .. import auto
from ..configuration import PretrainedConfig
from ..modeling import PreTrainedModel

TOY_MODEL_TYPE = "toy-mlp"
TOY_EXERCISE = "a toy family through AutoModel"
QUIZ_EXERCISE = "which class does Auto pick?"


# --------------------------------------------------------------------------- a family of one's own


def _fail(messages: list[str]) -> CheckResult:
    return CheckResult(TOY_EXERCISE, False, messages)


def _call(what: str, function, *args, **kwargs):
    """Run one step of the check; return (value, None) or (None, a sentence naming the error)."""
    try:
        return function(*args, **kwargs), None
    except Exception as err:  # a wrong answer is reported, never raised
        return None, f"{what} raised {type(err).__name__}: {err}"


def check_toy_family(config_class, model_class, model_type: str = TOY_MODEL_TYPE) -> CheckResult:
    """Check a config class and a model class for the family ``model_type`` (default "toy-mlp").

    Expected: ``config_class`` derives from ``PretrainedConfig``, declares ``model_type``,
    takes ``vocab_size`` and ``n_embd`` (with defaults) plus ``**kwargs``, and maps the common
    name ``hidden_size`` to ``n_embd``; ``model_class`` derives from ``PreTrainedModel``,
    names ``config_class``, and maps ``input_ids`` (batch, seq) to logits
    (batch, seq, vocab_size), returned as a tensor or as an output with ``.logits``.
    """
    # 1. The classes and their class attributes: what register() and Auto rely on.
    if not (isinstance(config_class, type) and issubclass(config_class, PretrainedConfig)):
        return _fail([f"the first argument should be your config class, a subclass of hfexplain.PretrainedConfig; "
                      f"got {config_class!r}."])
    if not (isinstance(model_class, type) and issubclass(model_class, PreTrainedModel)):
        return _fail([f"the second argument should be your model class, a subclass of hfexplain.PreTrainedModel; "
                      f"got {model_class!r}."])
    config_name, model_name = config_class.__name__, model_class.__name__
    messages = []
    declared = getattr(config_class, "model_type", "")
    if not declared:
        messages.append(
            f"{config_name}.model_type is empty: set the class attribute model_type = {model_type!r}. "
            "save_pretrained writes it into config.json, and Auto reads it back to find your classes."
        )
    elif declared != model_type:
        messages.append(
            f"{config_name}.model_type is {declared!r}, but this family is called {model_type!r}: "
            f"set model_type = {model_type!r}."
        )
    if getattr(model_class, "config_class", None) is not config_class:
        current = getattr(model_class, "config_class", None)
        messages.append(
            f"{model_name}.config_class is {getattr(current, '__name__', current)}, not {config_name}: set the class "
            f"attribute config_class = {config_name}, so {model_name}.from_pretrained knows which class reads "
            "config.json (hfexplain.register checks it too)."
        )

    # 2. The config: defaults, its fields, the common name hidden_size.
    config, error = _call(f"{config_name}()", config_class)
    if error:
        return _fail(messages + [f"{error}. Give every __init__ argument a default, e.g. vocab_size=16, n_embd=8."])
    for field in ("vocab_size", "n_embd"):
        if field not in vars(config):
            messages.append(f"{config_name}() has no field {field!r}: store it in __init__ (self.{field} = {field}).")
    if "n_embd" in vars(config):
        try:
            hidden = config.hidden_size
        except AttributeError:
            messages.append(
                f"{config_name}().hidden_size raises AttributeError: add attribute_map = {{'hidden_size': 'n_embd'}} "
                "to the class, so the common name reads (and writes) the family's own field, as GPT-2 does."
            )
        else:
            if hidden != config.n_embd:
                messages.append(f"config.hidden_size is {hidden!r} but config.n_embd is {config.n_embd!r}: "
                                "attribute_map should send hidden_size to 'n_embd'.")
            else:
                config.hidden_size = config.n_embd + 3
                if config.n_embd != hidden + 3:
                    messages.append(
                        "setting config.hidden_size did not change config.n_embd: map the name with attribute_map = "
                        "{'hidden_size': 'n_embd'} (PretrainedConfig then routes reads and writes) instead of a "
                        "property or a copy."
                    )
    if messages:
        return _fail(messages)

    # 3. The config survives a trip through a dict, as config.json does.
    small = dict(vocab_size=11, n_embd=6)
    config, error = _call(f"{config_name}(vocab_size=11, n_embd=6)", config_class, **small)
    if error:
        return _fail([error + "."])
    again, error = _call(f"{config_name}.from_dict(config.to_dict())", config_class.from_dict, config.to_dict())
    if error:
        return _fail([
            f"{error}. config.json also holds the common keys (architectures, dtype, id2label ...): let __init__ "
            "accept **kwargs and hand them on with super().__init__(**kwargs)."
        ])
    lost = [f"{k} (passed {v}, read back {getattr(again, k, None)!r})" for k, v in small.items()
            if getattr(again, k, None) != v]
    if lost:
        return _fail([f"fields did not survive to_dict -> from_dict: {', '.join(lost)}. Store every __init__ "
                      f"argument on self (self.vocab_size = vocab_size) rather than a fixed value."])

    # 4. Register the family, then build a model through Auto.
    _, error = _call("hfexplain.register", auto.register, model_type, config_class, {"base": model_class},
                     exist_ok=True)
    if error:
        return _fail([error])
    torch.manual_seed(0)
    model, error = _call("AutoModel.from_config(config)", auto.AutoModel.from_config, config)
    if error:
        return _fail([error + "."])
    if type(model) is not model_class:
        return _fail([f"AutoModel.from_config built a {type(model).__name__}, not a {model_name}."])
    if not list(model.parameters()):
        return _fail([f"{model_name} has no parameters: create its layers as modules (nn.Embedding, nn.Linear) or "
                      "nn.Parameter attributes in __init__, so save_pretrained has weights to store."])
    model.eval()
    input_ids = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 10]])  # (b=2, s=4)
    logits, error = _run(model, input_ids)
    if error:
        return _fail([error])
    expected_shape = (2, 4, 11)
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != expected_shape:
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        return _fail([f"model(input_ids) should give logits of shape (batch, seq, vocab_size) = {expected_shape}; "
                      f"got {got}."])

    # 5. save_pretrained -> AutoModel.from_pretrained: same class, same weights, same logits.
    with tempfile.TemporaryDirectory() as folder:
        _, error = _call("model.save_pretrained(folder)", model.save_pretrained, folder)
        if error:
            return _fail([error.replace(folder, "<folder>")])
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as handle:
            saved_type = json.load(handle).get("model_type")
        loaded, error = _call("AutoModel.from_pretrained(folder)", auto.AutoModel.from_pretrained, folder)
        if error:
            return _fail([error.replace(folder, "<folder>") + "."])
    if saved_type != model_type:
        return _fail([f"config.json was saved with model_type {saved_type!r}, not {model_type!r}."])
    if type(loaded) is not model_class:
        return _fail([f"AutoModel.from_pretrained built a {type(loaded).__name__}, not a {model_name}."])
    original, reloaded = model.state_dict(), loaded.state_dict()
    changed = [k for k in original if k not in reloaded or not torch.equal(original[k], reloaded[k])]
    if changed:
        return _fail([f"weights did not round-trip: {', '.join(changed)} differ after save_pretrained -> "
                      "from_pretrained. Do not re-randomise weights after loading (e.g. in forward)."])
    logits_again, error = _run(loaded, input_ids)
    if error:
        return _fail([f"the reloaded model: {error}"])
    problems = compare_tensors("the reloaded model's logits", logits_again, logits, atol=0.0)
    if problems:
        return _fail(problems + [
            "its saved weights match, so something outside them differs: a plain tensor attribute (not an "
            "nn.Parameter or a registered buffer) is not saved, and randomness in forward changes every run."
        ])
    return CheckResult(TOY_EXERCISE, True, [
        f"config.json says model_type {model_type!r}; AutoModel.from_pretrained found {model_name} through the "
        "registry, and its weights and logits match the saved model exactly."
    ])


def _run(model, input_ids):
    """The model's logits for ``input_ids`` (a tensor, or ``.logits`` of an output); or an error sentence."""
    with torch.no_grad():
        out, error = _call("model(input_ids)", model, input_ids)
    if error:
        return None, error + "."
    return getattr(out, "logits", out), None


# --------------------------------------------------------------------------- predicting Auto's choice

# case -> (Auto class, the config.json it reads)
AUTO_QUIZ: dict[str, tuple[str, dict]] = {
    "a": ("AutoModelForCausalLM", {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": 2}),
    "b": ("AutoModel", {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": 2}),
    "c": ("AutoModelForSequenceClassification", {"model_type": "bert", "architectures": ["BertForMaskedLM"],
                                                "num_labels": 3}),
    "d": ("AutoModelForCausalLM", {"model_type": "llama", "architectures": ["GPT2LMHeadModel"]}),
    "e": ("AutoModelForMaskedLM", {"model_type": "gpt2", "n_layer": 2}),
    "f": ("AutoModel", {"architectures": ["BertModel"], "hidden_size": 384}),
}

_WHY = {
    "a": "model_type 'gpt2' picks the family, and AutoModelForCausalLM picks the causal-LM class in it.",
    "b": "the Auto class picks the task: AutoModel is the bare model. 'architectures' only records which class "
         "saved the file; Auto does not read it.",
    "c": "model_type 'bert' and the sequence-classification task; the 'architectures' entry is ignored, and a "
         "classifier head is created for the 3 labels.",
    "d": "model_type decides, not architectures: 'llama' gives the Llama causal LM even though architectures "
         "names a GPT-2 class.",
    "e": "GPT-2 has no masked-LM model (it is a left-to-right model), so the masked-LM table has no 'gpt2' row: "
         "a ValueError that lists the families that have one.",
    "f": "this config.json has no model_type key, so AutoConfig cannot tell the family: a ValueError "
         "(Auto does not guess the family from architectures).",
}


def auto_quiz_truth() -> dict[str, str]:
    """What hfexplain's Auto classes really pick for each :data:`AUTO_QUIZ` file ("ValueError" if refused).

    Each config.json is written to a temporary folder and read with ``AutoConfig.from_pretrained``;
    the Auto class then looks its model class up, exactly as ``from_pretrained`` would (no weights
    are built).
    """
    truth = {}
    with tempfile.TemporaryDirectory() as folder:
        for case, (auto_name, config_dict) in AUTO_QUIZ.items():
            with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as handle:
                json.dump(config_dict, handle)
            try:
                config = auto.AutoConfig.from_pretrained(folder)
                truth[case] = getattr(auto, auto_name)._class_for_config(config).__name__
            except ValueError:
                truth[case] = "ValueError"
    return truth


def check_auto_predictions(predictions) -> CheckResult:
    """Check ``{case: class name or "ValueError"}`` against what Auto picks for :data:`AUTO_QUIZ`."""
    if not isinstance(predictions, dict):
        return CheckResult(QUIZ_EXERCISE, False, [
            f"predictions should be a dict like {{'a': 'GPT2Model', ...}}, got {type(predictions).__name__}."])
    truth = auto_quiz_truth()
    messages = []
    unknown = sorted(set(predictions) - set(truth))
    if unknown:
        messages.append(f"unknown cases {unknown}: the cases are {', '.join(truth)}.")
    blank = [case for case in truth if predictions.get(case, ...) in (..., None, "")]
    if blank:
        messages.append(f"no prediction yet for {', '.join(blank)}: give a class name such as 'GPT2Model', "
                        "or 'ValueError' where Auto refuses.")
    right = 0
    for case, expected in truth.items():
        guess = predictions.get(case, ...)
        if guess in (..., None, ""):
            continue
        if isinstance(guess, type):
            guess = "ValueError" if issubclass(guess, ValueError) else guess.__name__
        if not isinstance(guess, str):
            messages.append(f"{case}: give the class name as a string, got {guess!r}.")
        elif guess.strip() == expected:
            right += 1
        elif guess.strip().lower() == expected.lower():
            messages.append(f"{case}: right class, but it is spelled {expected!r} (class names are case-sensitive).")
        else:
            auto_name = AUTO_QUIZ[case][0]
            messages.append(f"{case}: you said {guess!r}, but {auto_name} gives {expected}: {_WHY[case]}")
    if right == len(truth) and not messages:
        return CheckResult(QUIZ_EXERCISE, True, [f"all {len(truth)} right: model_type picks the family, the Auto "
                                                 "class picks the task, and architectures is only a record."])
    return CheckResult(QUIZ_EXERCISE, False, [f"{right} of {len(truth)} right.", *messages])


__all__ = ["AUTO_QUIZ", "TOY_MODEL_TYPE", "auto_quiz_truth", "check_auto_predictions", "check_toy_family"]
