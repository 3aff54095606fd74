"""``python -m drummernet.cli``: the same as the ``drummernet`` command."""

import sys

from drummernet.cli.main import main

sys.exit(main())
