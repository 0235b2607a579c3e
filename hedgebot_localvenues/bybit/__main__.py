"""``python -m hedgebot_localvenues.bybit``: the same as ``hedgebot exchange-sim --venue bybit``."""

import sys

from hedgebot_localvenues.bybit import main

sys.exit(main())
