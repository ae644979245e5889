"""Progress bars: tqdm's where it is installed, a silent stand-in with the methods the package calls
where it is not (``gpu-check`` runs on a bare GPU machine with only torch, NumPy and Pillow).
"""

from __future__ import annotations

try:
    from tqdm.auto import tqdm
    AVAILABLE = True
except ImportError:
    AVAILABLE = False

    class tqdm:  # lower case: the name the package's modules call, as tqdm spells it
        """A progress bar that draws nothing: iterates, counts and accepts tqdm's keywords."""

        def __init__(self, iterable=None, total=None, **kwargs) -> None:
            self.iterable, self.total, self.n = iterable, total, 0

        def __iter__(self):
            return iter(self.iterable if self.iterable is not None else ())

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.close()

        def update(self, n: int = 1) -> None:
            self.n += n

        def set_postfix(self, *args, **kwargs) -> None:
            pass

        def close(self) -> None:
            pass

        @staticmethod
        def write(text: str, *args, **kwargs) -> None:
            print(text)
