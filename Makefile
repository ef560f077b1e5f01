# The two commands a newcomer needs: `make up` and `make test`. Everything else is installed on first use.
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
SYNCED := $(VENV)/.synced

.PHONY: up test bench lint fmt contracts install clean

up: $(SYNCED)  ## run the whole system locally: embedded broker, five services, gateway
	$(VENV)/bin/civic up

test: $(SYNCED)  ## the full suite on SQLite, then the integration and e2e suites again on PostgreSQL
	$(VENV)/bin/pytest $(PYTEST_ARGS)
	$(VENV)/bin/pytest --database=postgresql tests/integration tests/e2e $(PYTEST_PG_ARGS)

bench: $(SYNCED)  ## pipeline vs plain aiokafka, civic up, journeys, gateway overhead, name search, ID masking, recalculation
	$(VENV)/bin/python -m bench
	$(VENV)/bin/python -m bench.journeys
	@command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null 2>&1 || echo "wrk could not be installed: the gateway bench falls back to an httpx client"
	$(VENV)/bin/python -m bench.gateway_overhead
	$(VENV)/bin/python -m bench.placenames_search
	$(VENV)/bin/python -m bench.masking
	$(VENV)/bin/python -m bench.assistance_recalc --households 100000  # the issue's SQLite figure
	$(if $(RECALC_MILLION),$(VENV)/bin/python -m bench.assistance_recalc --households 1000000 --postgresql)  # make bench RECALC_MILLION=1: ~7 min

lint: $(SYNCED)  ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy civic contracts services gateway bench

contracts: $(SYNCED)  ## regenerate contracts/schemas and contracts/asyncapi.json
	$(VENV)/bin/civic contracts export

install: $(SYNCED)

# uv is kept in its own small venv so that `uv sync` never uninstalls it from the project's venv.
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(SYNCED): $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --compile-bytecode  # compiled bytecode: six processes start in ~4 s instead of ~13 s
	@touch $(SYNCED)

clean:
	rm -rf $(VENV) $(TOOLS) .data .pytest_cache .mypy_cache .ruff_cache
