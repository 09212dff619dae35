"""``python -m actors.entrypoints.cli``: the ``minter`` command without its console script."""

import sys

from actors.entrypoints.cli.main import main

sys.exit(main())
