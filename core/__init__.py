"""Shared domain code: settings, Redis keys and registries, the credential vault."""
