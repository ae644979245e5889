"""Plotting helpers, one module per topic; each draws what a pure module computed."""
