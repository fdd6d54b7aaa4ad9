"""Provider metadata: valid for Airflow's own schema, and what ProvidersManager makes of it."""

from __future__ import annotations

import importlib
import importlib.resources
import importlib.util
import json
import sys
import types
import warnings
from typing import Any

import jsonschema
import pytest
from airflow import __version__ as AIRFLOW_VERSION

from primo_provider import __version__
from primo_provider.get_provider_info import get_provider_info
from primo_provider.hooks.primo import PrimoHook


@pytest.fixture
def fresh_providers_manager(monkeypatch: pytest.MonkeyPatch) -> Any:
    """ProvidersManager built from scratch for this test (the singletons are restored afterwards)."""
    from airflow.providers_manager import ProvidersManager

    if hasattr(ProvidersManager, "_instance"):  # Airflow 3
        monkeypatch.setattr(ProvidersManager, "_instance", None)
    else:  # Airflow 2: a Singleton metaclass keeps the instance
        from airflow.utils.singleton import Singleton

        monkeypatch.delitem(Singleton._instances, ProvidersManager, raising=False)
    monkeypatch.setattr(ProvidersManager, "_initialized", False)
    runtime = _runtime_manager_class()
    if runtime is not None:
        monkeypatch.setattr(runtime, "_instance", None)
        monkeypatch.setattr(runtime, "_initialized", False)
    return ProvidersManager


def _runtime_manager_class() -> Any:
    """Airflow 3.2+ serves hooks from the task SDK's manager (ProvidersManager.hooks is deprecated)."""
    try:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime
    except ImportError:  # Airflow 2
        return None
    return ProvidersManagerTaskRuntime


def _hooks() -> Any:
    runtime = _runtime_manager_class()
    if runtime is not None:
        return runtime().hooks
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager().hooks


def test_provider_info_is_valid_against_airflows_schema():
    schema = json.loads(
        importlib.resources.files("airflow").joinpath("provider_info.schema.json").read_text()
    )

    jsonschema.validate(get_provider_info(), schema)


def test_provider_info_is_what_the_entry_point_serves():
    from importlib.metadata import entry_points

    [entry] = [
        e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("primo_provider.")
    ]

    info = entry.load()()

    assert info == get_provider_info()
    assert info["package-name"] == "airflow-provider-primo"
    assert info["versions"] == [__version__]


def _listed_modules() -> list[str]:
    info = get_provider_info()
    modules = [
        m
        for kind in ("hooks", "operators", "sensors", "triggers")
        for e in info[kind]
        for m in e["python-modules"]
    ]
    modules += [path.rpartition(".")[0] for path in info["notifications"]]
    modules += [c["hook-class-name"].rpartition(".")[0] for c in info["connection-types"]]
    return modules


@pytest.mark.parametrize("module", sorted(set(_listed_modules())))
def test_every_listed_module_imports(module):
    if importlib.util.find_spec(module) is None and module not in {
        "primo_provider.hooks.primo",
        "primo_provider.operators.tickets",
    }:
        pytest.skip(f"{module} is listed by get_provider_info but not written yet")
    importlib.import_module(module)


def test_listed_classes_exist():
    info = get_provider_info()
    for path in [info["connection-types"][0]["hook-class-name"], *info["notifications"]]:
        module, _, name = path.rpartition(".")
        if importlib.util.find_spec(module) is None:
            continue  # reported by test_every_listed_module_imports
        assert hasattr(importlib.import_module(module), name), path


def test_providers_manager_resolves_the_hook(fresh_providers_manager):
    hook_info = _hooks()["primo"]

    assert hook_info is not None
    assert hook_info.hook_class_name == "primo_provider.hooks.primo.PrimoHook"
    assert hook_info.hook_name == "Primo"
    assert hook_info.connection_id_attribute_name == "primo_conn_id"
    assert hook_info.connection_testable is True
    assert importlib.import_module("primo_provider.hooks.primo").PrimoHook is PrimoHook
    assert fresh_providers_manager().providers["airflow-provider-primo"].version == __version__


def test_connection_form_hides_unused_fields_and_relabels_the_password(fresh_providers_manager):
    behaviour = fresh_providers_manager().field_behaviours["primo"]

    assert sorted(behaviour["hidden_fields"]) == ["login", "port", "schema"]
    assert behaviour["relabeling"]["password"] == "API key"
    assert behaviour["placeholders"]["extra__primo__company_id"]  # placeholders reach the extra fields


def test_connection_form_has_the_extra_fields(fresh_providers_manager):
    widgets = fresh_providers_manager().connection_form_widgets

    primo = {name: widget for name, widget in widgets.items() if name.startswith("extra__primo__")}
    assert set(primo) == {
        "extra__primo__company_id",
        "extra__primo__timeout",
        "extra__primo__max_retries",
        "extra__primo__verify",
    }
    # Airflow 3.2+ reads the declared form (full class path); 2.x and 3.0-3.1 ask the hook (class name)
    assert primo["extra__primo__company_id"].hook_class_name in (
        "primo_provider.hooks.primo.PrimoHook",
        "PrimoHook",
    )
    assert not any(widget.is_sensitive for widget in primo.values())


def test_form_extras_are_exactly_what_the_hook_accepts(primo_conn, fresh_providers_manager):
    """Every field the form offers is accepted by the hook, under its prefixed name too."""
    from primo_provider.hooks.primo import EXTRA_FIELDS

    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    assert set(fields) == set(EXTRA_FIELDS)
    extra = {"extra__primo__company_id": "cmp-1", "extra__primo__timeout": 5, "extra__primo__max_retries": 1}
    params = PrimoHook(
        primo_conn_id=primo_conn(extra={**extra, "extra__primo__verify": True})
    ).connection_params
    assert (params.company_id, params.timeout, params.max_retries, params.verify) == ("cmp-1", 5.0, 1, True)


def _primo_deprecation_warnings(providers_manager: type, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from airflow.exceptions import AirflowProviderDeprecationWarning

    if importlib.util.find_spec("wtforms") is None:
        # Airflow reads the hook's form methods (and warns) only when wtforms imports.
        fields = {
            name: type(name, (), {})
            for name in ("BooleanField", "IntegerField", "PasswordField", "StringField")
        }
        monkeypatch.setitem(sys.modules, "wtforms", types.SimpleNamespace(**fields))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        manager = providers_manager()
        assert _hooks()["primo"] is not None
        manager.field_behaviours  # noqa: B018 - imports every hook, as the connection UI does
        manager.connection_form_widgets  # noqa: B018
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, AirflowProviderDeprecationWarning) and "primo" in str(w.message).lower()
    ]


def test_no_deprecation_warning_for_our_hook(fresh_providers_manager, monkeypatch):
    assert _primo_deprecation_warnings(fresh_providers_manager, monkeypatch) == []


@pytest.mark.skipif(
    tuple(int(part) for part in AIRFLOW_VERSION.split(".")[:2]) < (3, 2),
    reason="Airflow before 3.2 asks the hook for its form and has no such deprecation to catch",
)
def test_deprecation_check_would_catch_a_hook_only_form(fresh_providers_manager, monkeypatch):
    """Control for the test above: without the declared form, Airflow 3.2+ warns about our hook's methods."""
    import primo_provider.get_provider_info as module

    def without_declared_form() -> dict[str, Any]:
        info = get_provider_info()
        for conn in info["connection-types"]:
            conn.pop("conn-fields"), conn.pop("ui-field-behaviour")
        return info

    monkeypatch.setattr(module, "get_provider_info", without_declared_form)

    found = _primo_deprecation_warnings(fresh_providers_manager, monkeypatch)

    assert found and all("primo_provider.hooks.primo.PrimoHook" in message for message in found), found


def test_ui_behaviour_for_older_airflow_matches_the_declared_one():
    """Airflow 2.11 to 3.1 ask the hook; 3.2+ read the provider info: both must describe the same form."""
    declared = get_provider_info()["connection-types"][0]["ui-field-behaviour"]

    behaviour = PrimoHook.get_ui_field_behaviour()

    assert behaviour == {
        "hidden_fields": declared["hidden-fields"],
        "relabeling": declared["relabeling"],
        "placeholders": declared["placeholders"],
    }
