"""The TuneForge miner: serves text-to-music on a bittensor axon.

Modules: ``config`` (flags → ``MinerConfig``), ``components`` (wallet, chain, backends),
``blacklist`` (who may call), ``engine`` (per-device workers, bounded queue, deadlines),
``health`` (counters and resource use), ``chain_sync`` (background metagraph re-sync, axon
record), ``neuron`` (the ``Miner`` lifecycle and axon handlers), ``selfcheck`` and ``cli``
(``tuneforge miner --self-check``).
"""
