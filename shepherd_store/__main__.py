"""`python -m shepherd_store`: the `shepherd-store` command line."""

import sys

from .cli import main

sys.exit(main())
