"""python scripts/reliability <goal> [options]   (or, from the repository root: python -m scripts.reliability)"""
import sys
from pathlib import Path

if __package__ in (None, ""):          # run as a folder: make the package importable by name
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from reliability.cli import main
else:
    from .cli import main

sys.exit(main())
