"""A tiny BLIP tokenizer for tests (test_blip.py, test_pipelines_blip.py): BERT's WordPiece, uncased,
with BLIP's ``[DEC]`` as the bos token (the decoder's first token), written as a vocab.txt folder
that both libraries read. Importing this module stays cheap."""
from __future__ import annotations

import json

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ("a an the photo picture of cat dog two red blue sofa on sitting what color is how many are there "
         "yes no ##s ##ing , . ?").split()
VOCAB = SPECIALS + WORDS + ["[DEC]"]
PAD, SEP, DEC = VOCAB.index("[PAD]"), VOCAB.index("[SEP]"), VOCAB.index("[DEC]")


def write_blip_tokenizer(folder):
    """vocab.txt and a tokenizer_config.json declaring a BertTokenizer with bos_token [DEC]."""
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "BertTokenizer", "do_lower_case": True, "bos_token": "[DEC]", "model_max_length": 24}))
    return folder
