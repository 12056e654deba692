# store-edge: the two set-up commands are `make run` and `make test` (see README).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml deploy/system-packages.txt 2>/dev/null | cksum | cut -d' ' -f1)

.PHONY: run demo test check lint typecheck complexity bench soak clean system-deps wheelhouse i18n i18n-extract

$(STAMP): pyproject.toml deploy/system-packages.txt
	@bash deploy/install-system-deps.sh deploy/system-packages.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

system-deps:
	@bash deploy/install-system-deps.sh deploy/system-packages.txt

run demo: $(STAMP)
	$(BIN)/store-edge demo

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check edge sync devices tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# no function in edge/, sync/, devices/ over 80 lines or cyclomatic complexity 25 (radon; data literals aside)
complexity: $(STAMP)
	$(BIN)/python -m pytest -q -p no:randomly tests/test_complexity.py

check: lint typecheck complexity test

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# translations: extract the English source texts to edge/locale/store_edge.pot, merge them into every
# catalog (edge/locale/<lang>/LC_MESSAGES/store_edge.po: translate the new entries there), compile the .mo
# files the package ships. A new language: $(BIN)/pybabel init -D store_edge -i edge/locale/store_edge.pot
# -d edge/locale -l <lang>, translate, make i18n.
I18N := -D store_edge -d edge/locale
i18n-extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k ngettext:1,2 --no-location --sort-output \
		--project store-edge --copyright-holder "store-edge contributors" -o edge/locale/store_edge.pot edge sync devices

i18n: i18n-extract
	$(BIN)/pybabel update $(I18N) -i edge/locale/store_edge.pot --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile $(I18N) --statistics

# the full simulated store day (thousands of sales, hundreds of thousands of adverts, 20+ kill -9s)
soak: $(STAMP)
	$(BIN)/store-edge simulate store-day --full $(SOAK_ARGS)

# an offline wheelhouse for deploy/install.sh (store networks often block the internet); for Pis built
# elsewhere: make wheelhouse WHEEL_PLATFORM="manylinux_2_17_aarch64 manylinux2014_aarch64"
WHEEL_PLATFORM ?=
wheelhouse: $(STAMP)
	PYTHON=$(BIN)/python bash deploy/make-wheelhouse.sh wheelhouse "$(WHEEL_PLATFORM)"

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
