import sys

from minter.localnet.cli import main

sys.exit(main())
