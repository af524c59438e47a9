"""A numpy tree predictor for small batches: XGBoost's own predict costs a fixed ~0.15-0.4 ms per
call, which dominates a one-row request. This one costs about a dozen numpy calls whatever the
number of trees, so it stays cheap even when the request finds the CPU caches cold (in the
server, between requests, they are: the level-by-level walker it replaced made ~55 numpy calls
and took 2x longer on the first call of a request than on a repeat).

The method is QuickScorer's (Lucchese et al., SIGIR 2015). Number each tree's leaves left to
right. A split that sends the row right rules out every leaf of its left subtree, and the leaf
the row reaches is the leftmost leaf no split has ruled out. So: compare the row with every
split at once, OR together the left-subtree leaf masks of the splits that go right (one bitwise
reduce per tree), and count the mask's trailing ones. Trees of at most 64 leaves fit one uint64
(any tree of depth <= 6, XGBoost's default); a model with larger trees is served by XGBoost.

Built from the booster's own JSON dump, so it predicts what XGBoost predicts: same margins
(summed tree by tree in float32, as XGBoost does), outputs within one float32 ulp, parity
tested. Any model it cannot mirror exactly (categorical splits, multi-output, other objectives)
gets None.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import xgboost as xgb

#: Objectives whose output is the margin itself, or exp(margin).
_IDENTITY = frozenset({"reg:squarederror", "reg:pseudohubererror", "reg:absoluteerror"})
_LOG_LINK = frozenset({"reg:tweedie", "count:poisson", "reg:gamma"})

MAX_LEAVES: Final = 64


@dataclass(frozen=True)
class CompiledTrees:
    """Every tree's splits in one set of arrays, trees contiguous, plus a leaf table per tree."""

    feature: np.ndarray  # (n_splits,) intp: the feature each split reads
    threshold: np.ndarray  # (n_splits,) float32: go right when x >= threshold
    default_right: np.ndarray  # (n_splits,) bool: a missing value goes right
    left_leaves: (
        np.ndarray
    )  # (n_splits,) uint32 or uint64: bit i set for leaf i of the left subtree
    tree_start: np.ndarray  # (n_trees,) intp: each tree's first split
    leaf_value: np.ndarray  # (n_trees * 65,) float32: tree * 65 + leaf number + 1
    tree_offset: np.ndarray  # (n_trees,) uint64: tree * 65
    log_link: bool

    def predict(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float32)
        value = x.take(self.feature, axis=1)
        go_right = value >= self.threshold  # False for NaN: fixed below when there is one
        total = x.sum()  # NaN if any value is (one numpy call instead of isnan + any)
        if total != total:  # a missing value takes the split's default branch
            go_right |= np.isnan(value) & self.default_right
        ruled_out = np.bitwise_or.reduceat(self.left_leaves * go_right, self.tree_start, axis=1)
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
        or any(_leaf_count(t) > MAX_LEAVES for t in trees)
    ):
        return None
    base_score = np.float32(params["base_score"].strip("[]"))
    log_link = objective in _LOG_LINK
    base_margin = np.log(base_score) if log_link else base_score
    return _compile(trees, np.float32(base_margin), log_link)


def _leaf_count(tree: dict[str, Any]) -> int:
    return sum(1 for child in tree["left_children"] if child == -1)


def _compile(trees: list[dict[str, Any]], base_margin: np.float32, log_link: bool) -> CompiledTrees:
    splits: list[tuple[int, float, bool, int]] = []
    tree_start = []
    width = MAX_LEAVES + 1
    leaf_value = np.zeros((len(trees), width), dtype=np.float32)
    for number, tree in enumerate(trees):
        tree_start.append(len(splits))
        tree_splits, leaves = _tree_splits(tree)
        # A tree that is one leaf still needs a split for the per-tree reduce: one that never
        # goes right (x >= inf is false, a missing value goes left) and rules nothing out.
        splits.extend(tree_splits or [(0, np.inf, False, 0)])
        leaf_value[number, 1 : len(leaves) + 1] = leaves
    leaf_value[0] = leaf_value[0] + base_margin  # float32 + float32: XGBoost's first addition
    feature, threshold, default_right, left_leaves = zip(*splits, strict=True)
    # Half the bytes to multiply and reduce when every tree has at most 32 leaves (depth <= 5).
    mask_type = np.uint32 if max(_leaf_count(t) for t in trees) <= 32 else np.uint64
    return CompiledTrees(
        feature=np.asarray(feature, dtype=np.intp),
        threshold=np.asarray(threshold, dtype=np.float32),
        default_right=np.asarray(default_right, dtype=bool),
        left_leaves=np.asarray(left_leaves, dtype=mask_type),
        tree_start=np.asarray(tree_start, dtype=np.intp),
        leaf_value=leaf_value.ravel(),
        tree_offset=np.arange(len(trees), dtype=np.uint64) * np.uint64(width),
        log_link=log_link,
    )


def _tree_splits(tree: dict[str, Any]) -> tuple[list[tuple[int, float, bool, int]], list[float]]:
    """(feature, threshold, default right, left-subtree leaf mask) per split, and the leaf
    values numbered left to right."""
    left, right = tree["left_children"], tree["right_children"]
    condition, feature = tree["split_conditions"], tree["split_indices"]
    default_left = tree["default_left"]
    leaves: list[float] = []
    splits: list[tuple[int, float, bool, int]] = []
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
