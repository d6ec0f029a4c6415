"""idpool: a self-hosted, wire-compatible server of Amazon Cognito Identity (identity pools)."""

__version__ = "0.1.0"
