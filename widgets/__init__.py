"""Dashboards for looking inside models, shipped as ``hfexplain.widgets``.

- ``TokenizerDashboard(tokenizers, text)``: text -> tokens, live; several tokenizers side
  by side; BPE merges step by step; WordPiece ``##`` continuations.
- ``AttentionDashboard(model, tokenizer, text)``: attention patterns of any hfexplain family
  (heatmap, head view, model view; layer and head sliders; hover and click); on a vision model
  (``AttentionDashboard(vit, image_processor, image)``) one query's attention over the patch
  grid, drawn on the image; CLIP's text and vision towers from one dropdown.
- ``GenerationExplorer(model, tokenizer, prompt)``: the next-token distribution under
  temperature / top-k / top-p, one token at a time, with the KV cache growing.

Each is a plain Python object: show it as the last expression of a cell, embed
``dashboard.widget`` in a layout of your own, read ``dashboard.text()`` where widgets do not
render, and save ``dashboard.to_html(path)`` as a standalone page. Built on ipywidgets and
plotly (``pip install 'hfexplain[widgets]'``); no JavaScript is fetched from the network.
``import hfexplain`` never imports this package.
"""
from .attention import AttentionDashboard
from .generation import GenerationExplorer
from .tokens import TokenizerDashboard
from .training import TrainingDashboard

__all__ = ["AttentionDashboard", "GenerationExplorer", "TokenizerDashboard", "TrainingDashboard"]
