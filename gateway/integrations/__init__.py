"""Integrations with systems outside the office. `platform`: callbacks in from the discipline
inspection network platform (纪检监察网络平台), signed the Standard Webhooks way (api.py)."""
