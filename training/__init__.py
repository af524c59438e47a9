"""The ML core: abalone data, feature transform, XGBoost training and evaluation (no HTTP)."""
