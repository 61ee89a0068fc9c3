"""``python -m rnnkit``: the ``rnnkit`` command (see ``rnnkit.cli``)."""
from .cli import main

raise SystemExit(main())
