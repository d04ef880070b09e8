"""The seed system's monitor entry point, kept so existing scripts and habits keep working.

    python monitoring/monitoring.py [-d] [--home DIR] [--settings FILE]

is exactly `gridkeeper monitor [same arguments]`; see docs/monitor.md. Normally the keeper runs
the monitor itself (`monitor.enabled`, the default), so this is needed only without a keeper.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from gridkeeper.cli.main import main
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from gridkeeper.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["monitor", *sys.argv[1:]]))
