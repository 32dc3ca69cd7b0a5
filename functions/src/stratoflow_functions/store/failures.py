"""Translate DynamoDB failures into the control plane's error tree.

Repositories catch the failures they expect (a lost condition) and turn them into
`ConflictError`/`NotFoundError` themselves; whatever else escapes a DynamoDB call goes through
`dynamo_errors()`, which maps throttling to `ThrottledError` and lets real bugs surface.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pynamodb.exceptions import PynamoDBException, TransactWriteError

from stratoflow_functions.errors import ThrottledError

CONDITION_FAILED = "ConditionalCheckFailedException"
THROTTLE_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
RETRYABLE_REASONS = frozenset(
    {"ThrottlingError", "TransactionConflict", "ProvisionedThroughputExceeded"}
)
"""Transaction cancellation reasons that mean "try again", not "the condition is false"."""


def is_condition_failure(exc: PynamoDBException) -> bool:
    """Whether a single-item write failed only because its condition was false."""
    return exc.cause_response_code == CONDITION_FAILED


TXN_CONDITION_FAILED = "ConditionalCheckFailed"
"""The cancellation reason of a transaction item whose condition failed."""


def cancellation_codes(exc: TransactWriteError) -> list[str | None]:
    """The per-item cancellation codes of a cancelled transaction (None = that item was fine)."""
    if exc.cause_response_code != "TransactionCanceledException":
        return []
    return [reason.code if reason is not None else None for reason in exc.cancellation_reasons]


def _is_throttle(exc: PynamoDBException) -> bool:
    if exc.cause_response_code in THROTTLE_CODES:
        return True
    if isinstance(exc, TransactWriteError):
        return any(code in RETRYABLE_REASONS for code in cancellation_codes(exc))
    return False


@contextmanager
def dynamo_errors() -> Iterator[None]:
    """Map DynamoDB throttling (and transaction conflicts) to `ThrottledError`.

    Raises:
        ThrottledError: DynamoDB asked us to slow down; the caller retries with backoff.
    """
    try:
        yield
    except PynamoDBException as exc:
        if _is_throttle(exc):
            raise ThrottledError("the store is busy; retry with backoff") from exc
        raise
