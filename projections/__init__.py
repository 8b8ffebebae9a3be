"""Pure KPI math: deal folding, contributions, time buckets, windows, KPI derivation.

Nothing here imports Faust or does I/O, so every rule of the contract is testable table-driven.
"""
