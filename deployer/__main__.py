"""``python -m deployer`` is the ``stack`` command."""

import sys

from deployer.cli import main

sys.exit(main())
