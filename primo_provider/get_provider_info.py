"""Provider metadata for Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

#: The connection form, declared the Airflow 3.2+ way; the hook serves the same to older versions.
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["login", "schema", "port"],
    "relabeling": {"password": "API key", "host": "Base URL"},
    "placeholders": {
        "host": "https://api.getprimo.com (default; a sandbox or proxy URL overrides it)",
        "password": "Primo API key",
        "company_id": "optional: target company for multi-company keys (x-company-id)",
        "timeout": "30",
        "max_retries": "3",
        "extra": '{"company_id": "...", "timeout": 30, "max_retries": 3}',
    },
}

CONN_FIELDS: dict[str, Any] = {
    "company_id": {
        "label": "Company ID",
        "description": "Sent as the x-company-id header, for API keys that manage several companies.",
        "schema": {"type": ["string", "null"]},
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "Timeout of each HTTP request. Default 30.",
        "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
    },
    "max_retries": {
        "label": "Max retries",
        "description": "Retries after a failed request (never duplicating a ticket). Default 3.",
        "schema": {"type": ["integer", "null"], "minimum": 0},
    },
    "verify": {
        "label": "Verify TLS certificates",
        "description": "Keep on unless a proxy with a private CA is in the way.",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
}


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata; valid against Airflow's ``provider_info.schema.json``."""
    from primo_provider import __version__

    return {
        "package-name": "airflow-provider-primo",
        "name": "Primo",
        "description": "`Primo <https://www.getprimo.com/>`__: IT management (devices, employees, tickets).",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Primo",
                "external-doc-url": "https://www.getprimo.com/",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "Primo", "python-modules": ["primo_provider.hooks.primo"]}],
        "operators": [{"integration-name": "Primo", "python-modules": ["primo_provider.operators.tickets"]}],
        "sensors": [{"integration-name": "Primo", "python-modules": ["primo_provider.sensors.tickets"]}],
        "triggers": [{"integration-name": "Primo", "python-modules": ["primo_provider.triggers.tickets"]}],
        "notifications": ["primo_provider.notifications.primo.PrimoNotifier"],
        "connection-types": [
            {
                "connection-type": "primo",
                "hook-class-name": "primo_provider.hooks.primo.PrimoHook",
                "hook-name": "Primo",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
    }
