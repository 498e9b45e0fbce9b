# homeops: the two README commands are `make demo` and `make test`; everything else is for developers.
UV_VERSION := 0.13.9
UV := .tools/bin/uv
BIN := .venv/bin

.PHONY: setup demo test test-fast lint docs docs-check bench-startup clean

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The venv, exactly as uv.lock pins it (dev tools included). Byte-code is compiled up front because an
# environment with PYTHONDONTWRITEBYTECODE=1 would otherwise recompile Typer and pydantic on every start
# (~230 ms per command; benchmarks/RESULTS.md).
setup: $(UV)
	UV_PYTHON_DOWNLOADS=never $(UV) sync --quiet --locked --extra dev --compile-bytecode
	$(BIN)/python -m compileall -q src

# README step 1: set up and run the main job offline on the embedded defaults: the real fan controller
# against a thermal model in virtual time (no config file, no hardware, no network).
demo: setup
	$(BIN)/homeops fan simulate

# README step 2: install the test services (root), set up, run every test (slow ones included).
test: setup
	scripts/install-test-services
	$(BIN)/pytest -q

test-fast: setup
	$(BIN)/pytest -q -m "not slow" tests/unit tests/cli

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict src

docs: setup
	$(BIN)/python scripts/gen_docs.py

docs-check: setup
	$(BIN)/python scripts/gen_docs.py --check

bench-startup: setup
	$(BIN)/python benchmarks/startup.py

clean:
	rm -rf .venv .tools .pytest_cache .mypy_cache .ruff_cache
