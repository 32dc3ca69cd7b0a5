"""Stratoflow: write workflows as plain Python and run them on serverless AWS.

The public API of the SDK is exactly what `__all__` lists; a test pins it.
"""

from stratoflow._version import __version__
from stratoflow.schemas import State, StateType

__all__ = ["State", "StateType", "__version__"]
