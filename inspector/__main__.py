"""`python -m inspector`: start the inspector."""

import sys

from inspector.app import main

sys.exit(main())
