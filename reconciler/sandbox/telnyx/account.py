"""The Telnyx sandbox account's fixed facts: its API key, connections and billing groups."""

from __future__ import annotations

DEFAULT_KEY = "KEYsandbox_telnyx_0000"
"""The sandbox's full-access API key (fake; documented). Extra keys: knob ``telnyx.keys``."""

CONNECTIONS = {
    "1684641123236054244": "chicago-support-sip",
    "1684641123236054255": "denver-fax-t38",
    "1684641123236054266": "paloalto-sales-sip",
    "1684641123236054299": "chicago-legacy-pbx",
}
"""Connections of the sandbox account: id → ``connection_name``. Other ids are accepted
(``connection_name`` becomes null)."""

BILLING_GROUPS = {
    "6a09cdc3-8948-47f0-aa62-74ac943d6c58": "chicago-ops",
    "f5586561-8ff0-4291-a0ac-84fe544797bd": "denver-ops",
    "0c1c3a5e-2f4b-4f4e-9d55-3b1c1f6c2a77": "sales",
}
"""Billing groups of the sandbox account; a job naming another one gets 403 code 10010."""
