"""Dashboards (ipywidgets + plotly), imported as hfexplain.widgets."""
from .attention import AttentionDashboard
from .generation import GenerationExplorer
from .tokens import TokenizerDashboard

__all__ = ["AttentionDashboard", "GenerationExplorer", "TokenizerDashboard"]
