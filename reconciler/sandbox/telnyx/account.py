"""The Telnyx sandbox account's fixed facts: its API key, connections, billing groups,
messaging profiles and emergency addresses."""

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

MESSAGING_PROFILES = {
    "4001932a-b9b3-4d5f-8e7a-2f0c6a1d9b10": "sales-sms",
    "4001932a-b9b3-4d5f-8e7a-2f0c6a1d9b21": "support-sms",
    "4001932a-b9b3-4d5f-8e7a-2f0c6a1d9b32": "alerts-sms",
}
"""Messaging profiles of the sandbox account: id → ``messaging_profile_name``. A messaging bulk
update naming another id is refused (422, pointer ``/messaging_profile_id``)."""

EMERGENCY_ADDRESSES = {
    "1315261609962112019": "233 S WACKER DR, CHICAGO IL 60606",
    "1315261609962112027": "1801 CALIFORNIA ST, DENVER CO 80202",
    "1315261609962112035": "3000 EL CAMINO REAL, PALO ALTO CA 94306",
}
"""Emergency addresses of the sandbox account: id → a label (the API never shows it). An
emergency job naming another id fails each of its numbers (``failed_operations``, 10015 "The
field is invalid.", pointer ``/emergency_address_id``), as the spec's example job shows."""
