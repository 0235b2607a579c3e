"""Seeded fault campaign: the real daemon against the local Deribit exchange, faults drawn per
scenario, and the hedge-exactly-once invariants checked from the exchange's records and the
daemon's journal.

* `scenarios`: the scenario model (fault kinds, timing) drawn deterministically from a seed;
* `rig`: the exchange's book and market and the daemon's settings for one scenario;
* `faults`: arming and clearing each fault kind on a running exchange;
* `fill_chaos`: duplicated and reordered account events, injected between broker and daemon;
* `probes`: what the exchange and the journal say (samples, labels, trades, fills);
* `invariants`: the five checks over that evidence;
* `inproc` / `subproc`: the daemon in-process, or as a subprocess that is killed and restarted;
* `worker`: one scenario in its own process; `campaign`: many, in parallel, and the table.

Run: ``python -m tests.e2e.chaos --scenarios 200 --seed 1 [--kinds ...] [--jobs 2]``.
Nothing here may be imported by hedgebot.
"""
