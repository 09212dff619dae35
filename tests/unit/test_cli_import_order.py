"""`minter worker` sets PROMETHEUS_MULTIPROC_DIR before prometheus-client is imported: the
library picks single- or multi-process mode at import, so the CLI module must not load it."""

import subprocess
import sys


def test_importing_the_cli_does_not_load_prometheus_client():
    probe = (
        "import sys, actors.entrypoints.cli.main; "
        "sys.exit(1 if 'prometheus_client' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", probe]).returncode == 0
