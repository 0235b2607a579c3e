"""``python -m hedgebot_localvenues.deribit``: run the local Deribit exchange (see `cli.main`)."""

from hedgebot_localvenues.deribit.cli import main

raise SystemExit(main())
