"""Backtests: the bot's own GridStrategy against the paper exchange's Engine, in simulated time.

Public surface: `run_backtest` (one run), `run_sweep` (many, in parallel), `load_prices` (data),
`BacktestResult` (what a run reports). See docs/backtest.md.
"""

from gridkeeper.backtest.data import PricePath, load_prices
from gridkeeper.backtest.model import BacktestResult, SimSetup
from gridkeeper.backtest.sim import run_backtest
from gridkeeper.backtest.sweep import run_sweep

__all__ = ["BacktestResult", "PricePath", "SimSetup", "load_prices", "run_backtest", "run_sweep"]
