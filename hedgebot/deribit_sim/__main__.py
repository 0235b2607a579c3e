"""``python -m hedgebot.deribit_sim``: run the local Deribit exchange (see `cli.main`)."""

from hedgebot.deribit_sim.cli import main

raise SystemExit(main())
