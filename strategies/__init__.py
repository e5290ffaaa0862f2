"""Strategies, signals and backtests: not built yet (see the README's "What is not finished")."""
