"""Dashboards (ipywidgets + plotly), imported as hfexplain.widgets."""
from .tokens import TokenizerDashboard

__all__ = ["TokenizerDashboard"]
