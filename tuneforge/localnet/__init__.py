"""A whole TuneForge subnet in one process: local chain, miners on 127.0.0.1 axons, a validator, the API."""
