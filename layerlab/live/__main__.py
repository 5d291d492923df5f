"""`python -m layerlab.live [--json]`: print what this machine allows (see probe.py)."""

from .kernel.probe import main

raise SystemExit(main())
