"""python -m kuda_core {trace,locate,unlearn,evaluate,export,run} --config run.json (see cli.py)."""
import sys

from kuda_core.cli import main

sys.exit(main())
