"""ipywidgets explorers: thin wiring from sliders to a pure function and a figure function."""
