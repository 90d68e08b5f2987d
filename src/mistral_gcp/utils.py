"""Seed-compatible home of the retry settings (``from mistral_gcp.utils import RetryConfig``)."""

from ._endpoints import template_url
from ._retry import DEFAULT_RETRY_CONFIG, RETRYABLE_STATUS, BackoffStrategy, RetryConfig

__all__ = ["DEFAULT_RETRY_CONFIG", "RETRYABLE_STATUS", "BackoffStrategy", "RetryConfig", "template_url"]
