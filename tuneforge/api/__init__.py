"""The validator's HTTP API: the public music API (API keys, plans, credits, jobs, webhooks) and
the hotkey-signed scores API. Built by :func:`tuneforge.api.app.create_app`, served by
:class:`tuneforge.api.service.ApiService`; the contract is in ``docs/api.md``.
"""
