"""A tiny CLIP vocabulary for tests (test_clip.py, the zero-shot image pipeline, the widgets), built
without transformers: importing this module stays cheap."""
from __future__ import annotations

import json


def write_clip_vocab(folder):
    """vocab.json + merges.txt laid out as OpenAI's: the 256 byte symbols, the same with </w>, the
    merges' results in order, then the two special tokens; merges trained on a few captions."""
    from tokenizers import Regex, models, normalizers, pre_tokenizers, trainers
    from tokenizers import Tokenizer as BackendTokenizer

    from hfexplain.tokenization.legacy import CLIP_SPLIT_PATTERN

    backend = BackendTokenizer(models.BPE(end_of_word_suffix="</w>"))
    backend.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "),
                                               normalizers.Lowercase()])
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(CLIP_SPLIT_PATTERN), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False)])
    trainer = trainers.BpeTrainer(vocab_size=700, end_of_word_suffix="</w>", show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    corpus = ["a photo of a cat", "a photo of a dog", "the quick brown fox jumps over the lazy dog",
              "hello world, this is a photo of two cats and one dog", "it's a lovely photograph of the sea"] * 20
    backend.train_from_iterator(corpus, trainer)
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m)
              for m in json.loads(backend.to_str())["model"]["merges"]]
    symbols = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(pair) for pair in merges]
    vocab = list(dict.fromkeys(vocab)) + ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({token: index for index, token in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(pair) for pair in merges) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "CLIPTokenizer"}))
    return folder
