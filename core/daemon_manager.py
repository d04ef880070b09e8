"""The seed system's entry point, kept so existing scripts and habits keep working.

    python core/daemon_manager.py start --config config/active/bot.json --daemon
    python core/daemon_manager.py stop --config config/active/bot.json
    python core/daemon_manager.py stop -
    python core/daemon_manager.py restart [--config F]
    python core/daemon_manager.py status [--config F]
    python core/daemon_manager.py list

Each is exactly `gridkeeper <same arguments>`; see docs/keeper.md.
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
    sys.exit(main(sys.argv[1:]))
