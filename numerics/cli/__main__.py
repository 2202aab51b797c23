"""``python -m numerics.cli``: the same entry point as the ``unlearnstab`` script."""

import sys

from numerics.cli.entry import main

sys.exit(main())
