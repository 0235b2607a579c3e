"""``hedgebot backtest``: the daemon's hedge policy replayed over Monte Carlo and recorded paths.

The package owns market paths (`market`, `recorded`), the book's revaluation along them
(`book`), two engines that run the core policy (`event` calls `hedgebot.core.policy.decide` step
by step, `vectorised` runs the same rule across paths at once and is tested to agree trade for
trade), the policy grid (`policies`) and the frontier report (`report`). The composition root
(`hedgebot.app.backtest`) builds the book and rules from the daemon's config. See docs/backtest.md.
"""
