"""What a training run measured, one entry per epoch."""
from __future__ import annotations

import math

KEYS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "images_per_s", "seconds")
# Keys where a smaller value is better; for the others larger is better.
_LOWER_IS_BETTER = ("train_loss", "test_loss", "seconds")


class History(dict):
    """A dict of equally long lists, one list per measurement, one entry per epoch.

    ``history["test_acc"][-1]`` is the final test accuracy; ``history.best()`` is the
    epoch with the best test accuracy; ``print(history)`` shows a table. Being a plain
    dict underneath, it goes straight into ``json.dump`` or a ``pandas.DataFrame``.
    """

    def __init__(self, data: dict | None = None) -> None:
        super().__init__({key: [] for key in KEYS})
        for key, values in (data or {}).items():
            self[key] = list(values)

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return len(self["epoch"])

    def append(self, **row: float) -> None:
        """Record one epoch: every key of :data:`KEYS` must be given."""
        missing = set(KEYS) - set(row)
        if missing:
            raise ValueError(f"History.append needs every key of {KEYS}; missing {sorted(missing)}")
        for key in KEYS:
            self[key].append(row[key])

    def row(self, index: int) -> dict[str, float]:
        """All measurements of one epoch (by position, so -1 is the last)."""
        return {key: self[key][index] for key in self}

    def best(self, key: str = "test_acc") -> dict[str, float]:
        """The epoch where ``key`` was best (highest accuracy or throughput, lowest loss or time)."""
        if key not in self:
            raise ValueError(f"key must be one of {list(self)}, got {key!r}")
        if not self[key]:
            raise ValueError("the history is empty: no epoch has finished yet")
        values = [v if not math.isnan(v) else (math.inf if key in _LOWER_IS_BETTER else -math.inf)
                  for v in self[key]]
        pick = min if key in _LOWER_IS_BETTER else max
        return self.row(values.index(pick(values)))

    def __str__(self) -> str:
        head = f"{'epoch':>5} {'train loss':>10} {'train acc':>9} {'test loss':>9} {'test acc':>8} " \
               f"{'lr':>9} {'img/s':>9} {'s':>6}"
        lines = [head]
        for i in range(self.epochs):
            lines.append(
                f"{self['epoch'][i]:>5d} {self['train_loss'][i]:>10.4f} {100 * self['train_acc'][i]:>8.2f}% "
                f"{self['test_loss'][i]:>9.4f} {100 * self['test_acc'][i]:>7.2f}% {self['lr'][i]:>9.2e} "
                f"{self['images_per_s'][i]:>9.0f} {self['seconds'][i]:>6.1f}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"History({dict(self)!r})"
