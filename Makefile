# The two commands: `make run` (try it, with the demo platform) and `make test` (every test).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install translations benchmark clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed translations

translations: $(BIN)/.installed
	$(BIN)/pybabel compile --use-fuzzy -d lti_tool/translations -D messages >/dev/null

run: install
	LTI_TOOL_DEMO=$${LTI_TOOL_DEMO:-1} LTI_TOOL_BASE_URL=$${LTI_TOOL_BASE_URL:-http://$(HOST):$(PORT)} sh -c '\
	  $(BIN)/lti-tool keys ensure && \
	  $(BIN)/lti-tool db upgrade && \
	  $(BIN)/lti-tool demo-setup && \
	  exec $(BIN)/gunicorn --no-control-socket --workers 2 --bind $(HOST):$(PORT) --access-logfile - "lti_tool:create_app()"'

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

benchmark: install
	$(BIN)/python benchmarks/launch.py
	$(BIN)/python benchmarks/certification.py

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
