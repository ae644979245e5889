"""Plotting helpers, one module per topic; each draws what a pure module computed."""


def off(ax, title: str = "") -> None:
    """A panel with a small title and no ticks."""
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
