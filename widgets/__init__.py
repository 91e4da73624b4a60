"""Dashboards (ipywidgets + plotly), imported as hfexplain.widgets."""
