"""The TuneForge validator: challenges, queries, scoring rounds, the per-miner leaderboard (EMA),
weight setting on chain and persisted validator state. Modules are imported where used; this
package imports nothing heavy on its own."""
