"""gridkeeper: keeps grid-trading bots running and tells the operator when something breaks."""

__version__ = "0.1.0"
