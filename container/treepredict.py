"""A numpy tree predictor for small batches: XGBoost's own predict has a fixed cost per call,
which dominates a one-row request. This one does a bisection per feature in Python and about
ten numpy calls on arrays of a few kilobytes, an order of magnitude less for one row, caches
warm or flushed (measured figures: README, "Where the time went").

The idea is QuickScorer's (Lucchese et al., SIGIR 2015). Number each tree's leaves left to
right. A split that sends the row right rules out every leaf of its left subtree, and the leaf
the row reaches is the leftmost leaf that no split rules out. A row goes right at exactly the
splits on feature f whose threshold is <= its value: with those splits sorted by threshold, a
prefix, found by bisection. So at load time, for every feature and every prefix, the OR per
tree of the left-subtree leaf masks is tabulated (plus one row for a missing value, which takes
each split's default branch). A prediction ORs one table row per feature and counts each tree's
trailing ones: that is the leaf.

Limits, where the model is served by XGBoost alone: trees of more than 64 leaves (one uint64
mask; any tree of depth <= 6, XGBoost's default, fits), and a table above MAX_TABLE_BYTES
(splits x trees x 4 or 8 bytes, shared by all workers).

Built from the booster's own JSON dump, so it predicts what XGBoost predicts: same margins
(summed tree by tree in float32, as XGBoost does), outputs within one float32 ulp, parity
tested. Any model it cannot mirror exactly (categorical splits, multi-output, other objectives)
gets None.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import xgboost as xgb

#: Objectives whose output is the margin itself, or exp(margin).
_IDENTITY = frozenset({"reg:squarederror", "reg:pseudohubererror", "reg:absoluteerror"})
_LOG_LINK = frozenset({"reg:tweedie", "count:poisson", "reg:gamma"})

MAX_LEAVES: Final = 64
MAX_TABLE_BYTES: Final = 64 * 1024 * 1024

#: One split: (feature, threshold, a missing value goes right, left-subtree leaf mask).
Split = tuple[int, float, bool, int]


@dataclass(frozen=True)
class CompiledTrees:
    """Per feature, its split thresholds sorted; per (feature, prefix), the leaves ruled out."""

    thresholds: tuple[list[float], ...]  # per feature, ascending
    first_row: tuple[int, ...]  # per feature: the table row of its empty prefix
    missing_row: tuple[int, ...]  # per feature: the table row for a missing value
    ruled_out: np.ndarray  # (rows, n_trees) uint32/uint64: OR of left-subtree leaf masks
    leaf_value: np.ndarray  # (n_trees * 65,) float32: tree * 65 + leaf number + 1
    tree_offset: np.ndarray  # (n_trees,) uint64: tree * 65
    log_link: bool

    def predict(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float32)
        table_rows = []
        for values in x.tolist():
            for thresholds, first, missing, value in zip(
                self.thresholds, self.first_row, self.missing_row, values, strict=True
            ):
                # value != value: NaN, a missing value. Otherwise the splits with threshold
                # <= value send the row right (XGBoost goes left when value < threshold).
                table_rows.append(
                    missing if value != value else first + bisect_right(thresholds, value)
                )
        masks = self.ruled_out.take(table_rows, axis=0).reshape(x.shape[0], x.shape[1], -1)
        ruled_out = np.bitwise_or.reduce(masks, axis=1)
        # The leaf reached is the lowest bit not ruled out, i.e. the count of trailing ones:
        # x ^ (x + 1) has exactly (trailing ones + 1) bits set.
        leaf = np.bitwise_count(ruled_out ^ (ruled_out + ruled_out.dtype.type(1)))
        leaves = self.leaf_value.take(leaf + self.tree_offset)
        # Tree 0's leaves already include the base margin, so this is XGBoost's own sum:
        # base + tree 0 + tree 1 + ... sequentially in float32 (accumulate, not pairwise).
        margin = np.add.accumulate(leaves, axis=1, dtype=np.float32)[:, -1]
        if not self.log_link:
            return margin
        # exp in double precision rounded once to float32: what XGBoost returns.
        return np.exp(margin, dtype=np.float64).astype(np.float32)


def compile_trees(booster: xgb.Booster) -> CompiledTrees | None:
    """Compile the booster's trees, or None when this predictor cannot reproduce them."""
    model = json.loads(bytes(booster.save_raw("json")))["learner"]
    objective = model["objective"]["name"]
    params = model["learner_model_param"]
    trees = model["gradient_booster"].get("model", {}).get("trees")
    if (
        objective not in _IDENTITY | _LOG_LINK
        or params.get("num_target", "1") != "1"
        or params.get("num_class", "0") not in ("0", "1")
        or not trees
        or any(any(t["split_type"]) for t in trees)
    ):
        return None
    most_leaves = max(_leaf_count(t) for t in trees)
    if most_leaves > MAX_LEAVES:
        return None
    # Half the bytes when every tree has at most 32 leaves (depth <= 5).
    mask_type = np.uint32 if most_leaves <= 32 else np.uint64
    base_score = np.float32(params["base_score"].strip("[]"))
    log_link = objective in _LOG_LINK
    base_margin = np.log(base_score) if log_link else base_score
    n_features = int(params.get("num_feature", "0"))
    return _compile(trees, n_features, mask_type, np.float32(base_margin), log_link)


def _leaf_count(tree: dict[str, Any]) -> int:
    return sum(1 for child in tree["left_children"] if child == -1)


def _compile(
    trees: list[dict[str, Any]],
    n_features: int,
    mask_type: type[np.unsignedinteger[Any]],
    base_margin: np.float32,
    log_link: bool,
) -> CompiledTrees | None:
    width = MAX_LEAVES + 1
    leaf_value = np.zeros((len(trees), width), dtype=np.float32)
    by_feature: list[list[tuple[float, int, bool, int]]] = [[] for _ in range(n_features)]
    for number, tree in enumerate(trees):
        splits, leaves = _tree_splits(tree)
        leaf_value[number, 1 : len(leaves) + 1] = leaves
        for feature, threshold, missing_goes_right, mask in splits:
            # XGBoost compares in float32: the JSON's decimal, rounded to float32 as it was
            # stored, and held as the (exact) Python float of that float32.
            exact = float(np.float32(threshold))
            by_feature[feature].append((exact, number, missing_goes_right, mask))
    leaf_value[0] = leaf_value[0] + base_margin  # float32 + float32: XGBoost's first addition
    n_rows = sum(len(splits) + 2 for splits in by_feature)
    if n_rows * len(trees) * np.dtype(mask_type).itemsize > MAX_TABLE_BYTES:
        return None
    table = np.zeros((n_rows, len(trees)), dtype=mask_type)
    thresholds, first_row, missing_row = [], [], []
    row = 0
    for splits in by_feature:
        splits.sort(key=lambda split: split[0])
        thresholds.append([split[0] for split in splits])
        first_row.append(row)
        ruled_out = np.zeros(len(trees), dtype=mask_type)
        on_missing = np.zeros(len(trees), dtype=mask_type)
        for k, (_threshold, tree, missing_goes_right, mask) in enumerate(splits, start=1):
            ruled_out[tree] |= mask
            table[row + k] = ruled_out  # the first k splits (by threshold) go right
            if missing_goes_right:
                on_missing[tree] |= mask
        missing_row.append(row + len(splits) + 1)
        table[row + len(splits) + 1] = on_missing
        row += len(splits) + 2
    return CompiledTrees(
        thresholds=tuple(thresholds),
        first_row=tuple(first_row),
        missing_row=tuple(missing_row),
        ruled_out=table,
        leaf_value=leaf_value.ravel(),
        tree_offset=np.arange(len(trees), dtype=np.uint64) * np.uint64(width),
        log_link=log_link,
    )


def _tree_splits(tree: dict[str, Any]) -> tuple[list[Split], list[float]]:
    """(feature, threshold, default right, left-subtree leaf mask) per split, and the leaf
    values numbered left to right."""
    left, right = tree["left_children"], tree["right_children"]
    condition, feature = tree["split_conditions"], tree["split_indices"]
    default_left = tree["default_left"]
    leaves: list[float] = []
    splits: list[Split] = []
    # Iterative depth-first walk, left first, so leaves are numbered left to right; a split's
    # left subtree holds the leaves numbered from when it is entered to when its right starts.
    stack = [0]
    left_start: dict[int, int] = {}
    while stack:
        node = stack.pop()
        if left[node] == -1:
            leaves.append(condition[node])
            continue
        if node in left_start:  # second visit: its left subtree is done
            first, count = left_start[node], len(leaves) - left_start[node]
            mask = ((1 << count) - 1) << first
            splits.append((feature[node], condition[node], not default_left[node], mask))
            stack.append(right[node])
            continue
        left_start[node] = len(leaves)
        stack.extend((node, left[node]))
    return splits, leaves
