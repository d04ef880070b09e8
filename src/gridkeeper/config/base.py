"""The base every config model derives from.

Unknown keys are errors (a typo must never silently become a default), and defaults are validated
like any other value so a bad default is caught by the test suite, not by an operator.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A config section: unknown keys rejected, defaults validated, values frozen after load."""

    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)
