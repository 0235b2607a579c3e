"""``python -m hedgebot`` runs the command line."""

import sys

from hedgebot.cli import main

sys.exit(main())
