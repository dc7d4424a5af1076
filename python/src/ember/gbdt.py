"""Gradient-boosted trees: xgboost's ``hist`` algorithm on ember frames or NumPy arrays, on the
CPU engine or the GPU, with the same model bits on every device. Models are XGBoost JSON.

>>> import numpy as np, ember as em
>>> X = np.arange(200, dtype=np.float32).reshape(100, 2)
>>> y = (X[:, 0] > 100).astype(np.float32)
>>> model = em.gbdt.train(X, y, objective="binary:logistic", rounds=10)
>>> p = model.predict(X)
>>> bool(p[0] < 0.2 and p[-1] > 0.8)
True
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ember import _ember, exceptions
from ember.frame import DataFrame

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Model", "train", "load_model"]

_LABEL = "__ember_label__"
_WEIGHT = "__ember_weight__"


def _frame(
    data: Any, label: Any, weight: Any, feature_names: list[str] | None = None
) -> tuple[DataFrame, str, str | None]:
    """An ember frame holding features, label and weight columns, and those columns' names."""
    if isinstance(data, DataFrame):
        if not isinstance(label, str):
            raise TypeError("with a DataFrame, label is the name of its label column")
        if weight is not None and not isinstance(weight, str):
            raise TypeError("with a DataFrame, weight is the name of its weight column")
        return data, label, weight
    import numpy as np

    x = np.asarray(data, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"features must be 2-D (rows x features), got {x.ndim}-D")
    names = feature_names or [f"f{i}" for i in range(x.shape[1])]
    cols: dict[str, Any] = {n: np.ascontiguousarray(x[:, i]) for i, n in enumerate(names)}
    cols[_LABEL] = np.asarray(label, dtype=np.float32)
    if weight is not None:
        cols[_WEIGHT] = np.asarray(weight, dtype=np.float32)
    return DataFrame(cols), _LABEL, (_WEIGHT if weight is not None else None)


def _matrix(data: Any) -> tuple[Any, int, int]:
    """A 2-D array as (a flat C-order float32 view, rows, columns): no copy when it already is
    C-contiguous, writeable float32 (ember then trains on or predicts from it in place)."""
    import numpy as np

    x = np.ascontiguousarray(data, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"features must be 2-D (rows x features), got {x.ndim}-D")
    if not x.flags.writeable:  # DLPack before NumPy 2 cannot export read-only arrays
        x = x.copy()
    return x.reshape(-1), x.shape[0], x.shape[1]


def _vector(v: Any) -> Any:
    import numpy as np

    return np.ascontiguousarray(v, dtype=np.float32).reshape(-1).copy()


class Model:
    """A trained or loaded model (``train``, ``load_model``, ``Model.from_json``)."""

    __slots__ = ("_m",)

    def __init__(self, inner: _ember.GbdtModel) -> None:
        self._m = inner

    def predict(
        self,
        data: DataFrame | Any,
        *,
        margin: bool = False,
        iteration_range: tuple[int, int] | None = None,
        device: str | None = None,
    ) -> np.ndarray[Any, Any]:
        """Predictions (probabilities, or raw margins with ``margin=True``) as a float32 array:
        ``(rows,)``, or ``(rows, classes)`` for ``multi:softprob``. By default the rounds up to
        ``best_iteration`` when early stopping chose one, else all (``iteration_range`` overrides)."""
        import numpy as np

        if isinstance(data, DataFrame):
            raw, (rows, groups) = self._m.predict(data._df, margin, iteration_range, device)
        else:
            x, n, cols = _matrix(data)
            raw, (rows, groups) = self._m.predict_matrix(x, n, cols, margin, iteration_range, device)
        out = np.frombuffer(raw, dtype="<f4").reshape(rows, groups)
        return out[:, 0].copy() if groups == 1 else out.copy()

    def to_json(self) -> str:
        """XGBoost JSON (``xgboost.Booster().load_model(bytearray(text, "utf8"))`` reads it)."""
        return self._m.to_json()

    @staticmethod
    def from_json(text: str) -> Model:
        """A model from XGBoost JSON (xgboost 2.x or 3.x, ``gbtree``, numeric splits)."""
        return Model(_ember.GbdtModel.from_json(text))

    def save_model(self, path: str | os.PathLike[str]) -> None:
        """Writes XGBoost JSON to ``path``."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_json())

    def get_score(self, importance_type: str = "weight") -> dict[str, float]:
        """Importance per feature (``weight``, ``gain``, ``cover``, ``total_gain``, ``total_cover``), as xgboost's."""
        return dict(self._m.importance(importance_type))

    @property
    def best_iteration(self) -> int | None:
        return self._m.best_iteration

    @property
    def best_score(self) -> float | None:
        return self._m.best_score

    def num_boosted_rounds(self) -> int:
        return self._m.rounds

    @property
    def feature_names(self) -> list[str]:
        return self._m.feature_names

    @property
    def objective(self) -> str:
        return self._m.objective

    @property
    def eval_history(self) -> list[float]:
        """The eval metric after each round (empty without ``valid``)."""
        return self._m.eval_history

    @property
    def base_score(self) -> list[float]:
        return self._m.base_score

    def __repr__(self) -> str:
        return f"ember.gbdt.Model({self.objective}, {self.num_boosted_rounds()} rounds, {len(self.feature_names)} features)"


def train(
    data: DataFrame | Any,
    label: str | Any,
    *,
    objective: str = "reg:squarederror",
    num_class: int | None = None,
    weight: str | Any | None = None,
    valid: DataFrame | tuple[Any, Any] | None = None,
    device: str | None = None,
    **params: Any,
) -> Model:
    """Trains a model. ``data`` is an ember ``DataFrame`` (``label`` and ``weight`` name columns;
    every other column is a feature) or a 2-D array (``label``, ``weight``: 1-D arrays).
    ``valid`` (a frame, or ``(X, y)``) is evaluated each round; with ``early_stopping_rounds`` it
    stops training. Parameters take xgboost's names and defaults: ``rounds`` (100), ``max_depth``
    (6), ``eta`` (0.3), ``lambda``, ``alpha``, ``gamma``, ``min_child_weight``, ``max_bin`` (256),
    ``subsample``, ``colsample_bytree``, ``base_score``, ``seed``, ``eval_metric``
    (``rmse``, ``logloss``, ``auc``, ``mlogloss``), ``verbose``."""
    if not isinstance(data, DataFrame) and not isinstance(valid, DataFrame):
        # Arrays go straight to the trainer, which reads the matrix in place (no column copies).
        x, rows, cols = _matrix(data)
        va = None
        if valid is not None:
            vx, vrows, vcols = _matrix(valid[0])
            if vcols != cols:
                raise exceptions.InvalidArgumentError(f"valid has {vcols} features, the training data {cols}")
            va = (vx, vrows, _vector(valid[1]))
        wv = None if weight is None else _vector(weight)
        inner = _ember.gbdt_train_arrays(x, rows, cols, _vector(label), objective, num_class, wv, va, device, params)
        return Model(inner)
    df, lab, w = _frame(data, label, weight)
    vdf = None
    if valid is not None:
        if isinstance(valid, DataFrame):
            vdf = valid
        else:
            vx, vy = valid
            names = [c for c in df.columns if c not in (lab, w)]
            vdf = _frame(vx, vy, None, names)[0]
            if lab != _LABEL:
                raise TypeError("valid=(X, y) goes with array training data")
    inner = _ember.gbdt_train(df._df, lab, objective, num_class, w, vdf._df if vdf else None, device, params)
    return Model(inner)


def load_model(path: str | os.PathLike[str]) -> Model:
    """Reads an XGBoost JSON model file."""
    with open(path, encoding="utf-8") as f:
        return Model.from_json(f.read())
