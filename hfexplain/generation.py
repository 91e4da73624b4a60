"""Text generation (being written: see issue 3). GenerationMixin is mixed into causal-LM classes."""
from __future__ import annotations


class GenerationMixin:
    """Adds ``generate`` to models with a language-modelling head."""
