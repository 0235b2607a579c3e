"""``python -m hedgebot_localvenues.okx``: the same as ``hedgebot exchange-sim --venue okx``."""

import sys

from hedgebot_localvenues.okx import main

sys.exit(main())
