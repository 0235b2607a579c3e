"""``python -m hedgebot_localvenues.binance_usdm``: the same as
``hedgebot exchange-sim --venue binanceusdm``."""

import sys

from hedgebot_localvenues.binance_usdm import main

sys.exit(main())
