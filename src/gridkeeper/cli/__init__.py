"""Command-line interface: a thin client; each command group lives in its own module."""
