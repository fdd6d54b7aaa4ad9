"""Airflow's own tools know the provider: the real ``airflow`` CLI of the test venv (Airflow 3 or 2.11).

Every command runs as a subprocess with ``-o json`` where it has it. The commands are independent, so they
all start at once (``cli``) and each test reads the result it needs: the whole module costs about as much
as its slowest two commands.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from primo_provider import __version__

from .conftest import AIRFLOW, EXAMPLE_DAGS, _base_env

pytestmark = pytest.mark.integration

PACKAGE = "airflow-provider-primo"
TIMEOUT = 300


def _airflow_major() -> int:
    from airflow import __version__ as airflow_version

    return int(airflow_version.split(".")[0])


AIRFLOW_3 = _airflow_major() >= 3

BROKEN_DAG = '''\
"""A DAG file that cannot be imported: the check must report it (and only it)."""
from __future__ import annotations

from airflow.providers.common.compat.sdk import DAG  # noqa: F401

from primo_provider.operators.tickets import NoSuchOperator  # noqa: F401
'''

#: Run in a fresh interpreter: how ProvidersManager sees the hook and its connection form.
FORM_PROBE = textwrap.dedent(
    """
    import json, warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from airflow.providers_manager import ProvidersManager
        manager = ProvidersManager()
        hook = manager.hooks["primo"]  # imports the hook class, as the UI and the API server do
        fields = {n: i for n, i in manager.connection_form_widgets.items() if n.startswith("extra__primo__")}
        behaviour = manager.field_behaviours.get("primo")
    print(json.dumps({
        "hook": {"class": hook.hook_class_name, "name": hook.hook_name, "testable": hook.connection_testable},
        "widget_sources": {n: i.hook_class_name for n, i in fields.items()},
        # Airflow 3.2+: JSON-schema dicts from conn-fields; 2.11: WTForms fields from the hook
        "widgets": {n: i.field if isinstance(i.field, dict) else None for n, i in fields.items()},
        "widget_classes": {n: getattr(getattr(i.field, "field_class", None), "__name__", None)
                           for n, i in fields.items()},
        "behaviour": behaviour,
        "warnings": [
            {"category": w.category.__name__, "message": str(w.message),
             "mro": [c.__name__ for c in w.category.__mro__]}
            for w in caught
        ],
    }, default=str))
    """
)


@dataclass(frozen=True)
class Done:
    command: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self, *, returncodes: tuple[int, ...] = (0,)) -> Any:
        """The JSON document on stdout (Airflow 2 may print log lines before it)."""
        assert self.returncode in returncodes, self.explain()
        decoder = json.JSONDecoder()
        for index, line in enumerate(self.stdout.splitlines(keepends=True)):
            if line.lstrip().startswith(("[", "{")):
                rest = "".join(self.stdout.splitlines(keepends=True)[index:]).lstrip()
                try:
                    return decoder.raw_decode(rest)[0]
                except json.JSONDecodeError:
                    continue
        raise AssertionError(f"no JSON document on stdout\n{self.explain()}")

    def explain(self) -> str:
        return (
            f"$ {' '.join(self.command)}\nexit {self.returncode}\n"
            f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}"
        )


def _run_all(commands: dict[str, tuple[list[str], dict[str, str]]]) -> dict[str, Done]:
    """Start every command, then wait for each (bounded); never leave one running."""
    started = {
        name: (
            command,
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        )
        for name, (command, env) in commands.items()
    }
    results = {}
    try:
        for name, (command, process) in started.items():
            stdout, stderr = process.communicate(timeout=TIMEOUT)
            results[name] = Done(command, process.returncode, stdout, stderr)
    finally:
        for _, process in started.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results


@pytest.fixture(scope="module")
def cli(_airflow_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Done]]:
    env = _base_env(_airflow_home)
    broken = tmp_path_factory.mktemp("dags-with-a-broken-file")
    for dag_file in EXAMPLE_DAGS.glob("*.py"):
        (broken / dag_file.name).write_text(dag_file.read_text())
    (broken / "broken_primo_dag.py").write_text(BROKEN_DAG)
    broken_env = {**env, "AIRFLOW__CORE__DAGS_FOLDER": str(broken)}
    local = ["--local"] if AIRFLOW_3 else []  # Airflow 2 always parses the folder itself

    first = _run_all(
        {
            "providers list": ([AIRFLOW, "providers", "list", "-o", "json"], env),
            "providers get": ([AIRFLOW, "providers", "get", PACKAGE, "-o", "json"], env),
            "providers hooks": ([AIRFLOW, "providers", "hooks", "-o", "json"], env),
            "providers notifications": ([AIRFLOW, "providers", "notifications", "-o", "json"], env),
            "dags reserialize": ([AIRFLOW, "dags", "reserialize"], env),
            "import errors, broken folder": (
                [AIRFLOW, "dags", "list-import-errors", *local, "-o", "json"],
                broken_env,
            ),
            "form probe": ([str(Path(AIRFLOW).with_name("python")), "-c", FORM_PROBE], env),
        }
    )
    # Read back what reserialize stored (Airflow 3 lists from the database; Airflow 2 parses the folder).
    second = _run_all(
        {
            "dags list": ([AIRFLOW, "dags", "list", "-o", "json"], env),
            "dags list-import-errors": ([AIRFLOW, "dags", "list-import-errors", "-o", "json"], env),
        }
    )
    yield first | second


def _example_dag_ids() -> set[str]:
    import re

    return {
        dag_id
        for path in EXAMPLE_DAGS.glob("*.py")
        for dag_id in re.findall(r'dag_id="([^"]+)"', path.read_text())
    }


# --- providers ----------------------------------------------------------------------------------------


def test_providers_list_shows_the_provider_and_its_version(cli: dict[str, Done]) -> None:
    providers = cli["providers list"].json()
    [ours] = [p for p in providers if p["package_name"] == PACKAGE]
    assert ours["version"] == __version__
    assert ours["description"].startswith("Primo")


def test_providers_get_knows_the_package(cli: dict[str, Done]) -> None:
    assert cli["providers get"].json() == [{"Provider": PACKAGE, "Version": __version__}]


def test_providers_hooks_lists_the_primo_hook(cli: dict[str, Done]) -> None:
    hooks = [h for h in cli["providers hooks"].json() if h.get("package_name") == PACKAGE]
    assert hooks == [
        {
            "connection_type": "primo",
            "class": "primo_provider.hooks.primo.PrimoHook",
            "conn_id_attribute_name": "primo_conn_id",
            "package_name": PACKAGE,
            "hook_name": "Primo",
        }
    ]


def test_providers_notifications_lists_the_primo_notifier(cli: dict[str, Done]) -> None:
    names = [n["notification_class_name"] for n in cli["providers notifications"].json()]
    assert "primo_provider.notifications.primo.PrimoNotifier" in names


# --- the connection form, as ProvidersManager builds it -----------------------------------------------


@pytest.fixture(scope="module")
def form(cli: dict[str, Done]) -> dict[str, Any]:
    return cli["form probe"].json()


def test_connection_form_hides_irrelevant_fields_and_relabels_the_others(form: dict[str, Any]) -> None:
    assert form["hook"] == {
        "class": "primo_provider.hooks.primo.PrimoHook",
        "name": "Primo",
        "testable": True,
    }
    behaviour = form["behaviour"]
    assert sorted(behaviour["hidden_fields"]) == ["login", "port", "schema"]
    assert behaviour["relabeling"] == {"password": "API key", "host": "Base URL"}
    assert behaviour["placeholders"]["host"].startswith("https://api.getprimo.com")
    assert "extra__primo__company_id" in behaviour["placeholders"]
    assert sorted(form["widget_sources"]) == [
        f"extra__primo__{f}" for f in ("company_id", "max_retries", "timeout", "verify")
    ]


@pytest.mark.skipif(not AIRFLOW_3, reason="Airflow 3.2+ reads the declarative form; 2.11 has no such warning")
def test_airflow_3_reads_the_declared_form_without_deprecation_warnings(form: dict[str, Any]) -> None:
    ours = [w for w in form["warnings"] if "primo" in w["message"].lower()]
    assert ours == [], "loading the Primo hook must not warn (conn-fields / ui-field-behaviour are declared)"
    # The fields come from get_provider_info()'s conn-fields: JSON-schema dicts, not WTForms fields. (Without
    # them Airflow 3.3 would call the hook's methods, warn, and, lacking WTForms, show no extra fields.)
    assert form["widgets"]["extra__primo__company_id"]["schema"]["title"] == "Company ID"
    assert form["widgets"]["extra__primo__verify"]["value"] is True


@pytest.mark.skipif(AIRFLOW_3, reason="Airflow 2.11 builds the form from the hook's methods")
def test_airflow_2_builds_the_form_from_the_hook_methods(form: dict[str, Any]) -> None:
    from primo_provider.hooks.primo import PrimoHook

    assert form["widget_classes"] == {
        "extra__primo__company_id": "StringField",
        "extra__primo__timeout": "IntegerField",
        "extra__primo__max_retries": "IntegerField",
        "extra__primo__verify": "BooleanField",
    }
    expected = PrimoHook.get_ui_field_behaviour()
    assert form["behaviour"]["hidden_fields"] == expected["hidden_fields"]
    assert form["behaviour"]["relabeling"] == expected["relabeling"]


# --- the example DAGs ---------------------------------------------------------------------------------


def test_dags_reserialize_succeeds(cli: dict[str, Done]) -> None:
    done = cli["dags reserialize"]
    assert done.returncode == 0, done.explain()


def test_every_example_dag_is_listed(cli: dict[str, Done]) -> None:
    listed = {dag["dag_id"] for dag in cli["dags list"].json()}
    assert _example_dag_ids() <= listed, cli["dags list"].explain()


def test_example_dags_have_no_import_errors(cli: dict[str, Done]) -> None:
    assert cli["dags list-import-errors"].json() == []


def test_the_import_error_check_reports_a_broken_dag_file(cli: dict[str, Done]) -> None:
    """The same check on the example DAGs plus one broken file reports that file, and only it."""
    errors = cli["import errors, broken folder"].json(returncodes=(0, 1))  # Airflow 3 exits 1 on errors
    assert [Path(e["filepath"]).name for e in errors] == ["broken_primo_dag.py"], errors
    assert "NoSuchOperator" in errors[0]["error"]
