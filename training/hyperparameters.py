"""XGBoost hyperparameters: typed defaults, and coercion from SageMaker's all-string JSON."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from training.errors import HyperparameterError

_OBJECTIVES = ("reg:squarederror", "reg:tweedie", "count:poisson", "reg:pseudohubererror")


@dataclass(frozen=True)
class Hyperparameters:
    """Defaults tuned by 5-fold cross-validation on the abalone data (see training/cv.py)."""

    objective: str = "reg:tweedie"
    num_round: int = 3000
    early_stopping_rounds: int = 60
    eta: float = 0.03
    max_depth: int = 5
    min_child_weight: float = 4.0
    subsample: float = 0.7
    colsample_bytree: float = 0.6
    reg_lambda: float = 5.0
    gamma: float = 0.0
    seed: int = 42
    nthread: int = 1

    def __post_init__(self) -> None:
        checks = {
            "objective": self.objective in _OBJECTIVES,
            "num_round": self.num_round >= 1,
            "early_stopping_rounds": self.early_stopping_rounds >= 0,
            "eta": 0 < self.eta <= 1,
            "max_depth": 1 <= self.max_depth <= 32,
            "min_child_weight": self.min_child_weight >= 0,
            "subsample": 0 < self.subsample <= 1,
            "colsample_bytree": 0 < self.colsample_bytree <= 1,
            "reg_lambda": self.reg_lambda >= 0,
            "gamma": self.gamma >= 0,
            "nthread": self.nthread >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in bad)
            raise HyperparameterError(f"hyperparameter out of range: {shown}")

    @classmethod
    def from_strings(cls, values: Mapping[str, Any]) -> Hyperparameters:
        """Coerce SageMaker's string values (numbers work too); unknown names are errors."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        aliases = {"lambda": "reg_lambda"}
        kwargs: dict[str, Any] = {}
        for raw_name, raw_value in values.items():
            name = aliases.get(raw_name, raw_name)
            if name not in fields:
                known = ", ".join([*sorted(n for n in fields if n != "reg_lambda"), "lambda"])
                raise HyperparameterError(f"unknown hyperparameter {raw_name!r} (known: {known})")
            kwargs[name] = _coerce(raw_name, raw_value, fields[name].type)
        return cls(**kwargs)

    def booster_params(self) -> dict[str, Any]:
        """The parameter dict for xgboost.train."""
        return {
            "objective": self.objective,
            "eval_metric": "rmse",
            "eta": self.eta,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "lambda": self.reg_lambda,
            "gamma": self.gamma,
            "seed": self.seed,
            "nthread": self.nthread,
            "tree_method": "hist",
        }


def _coerce(name: str, value: Any, type_name: Any) -> Any:
    kind = {"int": int, "float": float, "str": str}[str(type_name)]
    try:
        if kind is int:
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        return kind(value)
    except (TypeError, ValueError):
        raise HyperparameterError(
            f"hyperparameter {name}={value!r} is not a valid {kind.__name__}"
        ) from None
