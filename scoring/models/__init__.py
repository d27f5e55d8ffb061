"""Neural models used by scoring (CLAP, a self-supervised music encoder, Whisper, a preference head).

Being implemented. ``ModelBundle`` is what the scorer receives: every attribute is optional and
absent models make their signals unavailable.
"""
