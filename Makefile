# airflow-provider-primo: the two commands a newcomer needs are `make demo` and `make test`.
#
# Environments are made with uv (installed into .tools/ from PyPI by pip), pinned by the constraint
# files in constraints/, one virtual environment per supported Airflow version.

PYTHON ?= python3
UV_VERSION := 0.13.9
AIRFLOW_3 := 3.3.2
AIRFLOW_2 := 2.11.2
UV := .tools/bin/uv
VENV_3 := .venv
VENV_2 := .venv-airflow2
# Airflow 3 gets the benchmark and browser-test extras too; 2.11 runs the same suite without them.
EXTRAS_3 := test,bench,browser
PYTEST_ARGS ?=

.PHONY: help demo test test-3 test-2 chromium bench lint format env clean constraints

help:
	@echo "make demo   - run the example DAGs through real Airflow against the local Primo sandbox"
	@echo "make test   - build fresh environments and run the whole suite on Airflow $(AIRFLOW_3) and $(AIRFLOW_2)"
	@echo "make bench  - run the benchmarks (client overhead, DAG-parse cost, notifier, memory, storm)"
	@echo "make lint   - ruff check and format check"

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# venv(dir, airflow version, extras): create the environment from scratch.
define make_venv
	rm -rf $(1)
	$(UV) venv --quiet --python $(PYTHON) $(1)
	VIRTUAL_ENV=$(1) $(UV) pip install --quiet -e ".[$(3)]" "apache-airflow==$(2)" -c constraints/airflow-$(2).txt
	touch $(1)/.installed
endef

# The demo environment is kept between runs and rebuilt only when the project's dependencies change.
$(VENV_3)/.installed: pyproject.toml constraints/airflow-$(AIRFLOW_3).txt | $(UV)
	$(call make_venv,$(VENV_3),$(AIRFLOW_3),$(EXTRAS_3))

env: $(VENV_3)/.installed

demo: $(VENV_3)/.installed
	$(VENV_3)/bin/python scripts/demo.py

# `make test` always starts from fresh environments, as a machine that has never seen the project would.
test: | $(UV)
	$(call make_venv,$(VENV_3),$(AIRFLOW_3),$(EXTRAS_3))
	$(call make_venv,$(VENV_2),$(AIRFLOW_2),test)
	$(MAKE) --no-print-directory test-3 test-2

test-3: chromium
	@echo "=== Airflow $(AIRFLOW_3) ==="
	$(VENV_3)/bin/ruff check primo_provider tests example_dags scripts benchmarks
	$(VENV_3)/bin/ruff format --check primo_provider tests example_dags scripts benchmarks
	$(VENV_3)/bin/pytest $(PYTEST_ARGS)

test-2:
	@echo "=== Airflow $(AIRFLOW_2) ==="
	$(VENV_2)/bin/pytest $(PYTEST_ARGS)

# The browser test drives Debian's Chromium (browser downloads are not possible on these machines).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the connection-form browser test (needs root) ..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	}

bench: $(VENV_3)/.installed
	$(VENV_3)/bin/python benchmarks/run.py

lint: $(VENV_3)/.installed
	$(VENV_3)/bin/ruff check primo_provider tests example_dags scripts benchmarks
	$(VENV_3)/bin/ruff format --check primo_provider tests example_dags scripts benchmarks

format: $(VENV_3)/.installed
	$(VENV_3)/bin/ruff check --fix primo_provider tests example_dags scripts benchmarks
	$(VENV_3)/bin/ruff format primo_provider tests example_dags scripts benchmarks

# Re-resolve the pinned dependency sets (run by a maintainer when upgrading; needs the package index).
constraints: | $(UV)
	for version in $(AIRFLOW_3) $(AIRFLOW_2); do \
		echo "apache-airflow==$$version" > /tmp/primo-req.txt; \
		$(UV) pip compile --quiet --python-version 3.11 --all-extras pyproject.toml /tmp/primo-req.txt \
			--no-header --no-annotate -o constraints/airflow-$$version.txt; \
	done

clean:
	rm -rf .tools $(VENV_3) $(VENV_2) .pytest_cache .ruff_cache .hypothesis
