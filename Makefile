# 反诈助手: the whole developer interface. `make run` and `make test` set everything up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.10 (Rasa 3.6 needs it): python3.10 on PATH, else pyenv's newest 3.10.
PYTHON310 ?= $(shell python3.10 -c 'import sys; print(sys.executable)' 2>/dev/null \
	|| PYENV_VERSION=$$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$$)' | tail -1) pyenv which python 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
RASA := $(BIN)/rasa
MODEL := models/fraudbot.tar.gz
SPACY_PIPELINE := nlu/spacy/zh_fraudbot_v1/config.cfg
# The data folders themselves too: a folder's time changes when a file is added or removed, so a deleted
# training file retrains the model as well.
TRAIN_INPUTS := config.yml domain.yml $(shell find nlu/data stories \( -type d -o -name '*.yml' \) 2>/dev/null) \
	nlu/components.py nlu/spacy_pipeline.py nlu/intent_classifier.py nlu/text_normalizer.py nlu/normalize.py \
	nlu/homophones.yml

export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_INTER_OP_PARALLELISM_THREADS ?= 2
export TF_INTRA_OP_PARALLELISM_THREADS ?= 2

.PHONY: help run serve admin train test test-fast lint validate browser ocr-system fleet-system fleet test-stories telegram screenshots clean

help:
	@echo "make run    set up, train if needed, start the bot and chat in this terminal"
	@echo "make test   set up, train if needed, validate data, lint, pytest, Rasa test stories"
	@echo "make test-fast  the tests that need no model, browser, fleet engines or long waits (under a minute)"
	@echo "make serve  action server (5055) + Rasa REST server (5005) + web admin (5002) in the foreground"
	@echo "make admin  the web admin alone on http://127.0.0.1:5002/admin/"
	@echo "make train  (re)train the model when its inputs changed"
	@echo "make telegram  the bot on Telegram by long polling (TELEGRAM_BOT_TOKEN)"
	@echo "make fleet  2 Rasa replicas + 2 action servers behind HAProxy, PostgreSQL, Redis, 2 alert workers, admin"

$(BIN)/.installed: pyproject.toml constraints.txt
	@test -n "$(PYTHON310)" || { echo "Python 3.10 not found (python3.10 or pyenv 3.10.x)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON310) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip<26"
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	@touch $@

$(SPACY_PIPELINE): nlu/spacy_pipeline.py | $(BIN)/.installed
	$(BIN)/python -m nlu.spacy_pipeline

$(MODEL): $(TRAIN_INPUTS) $(SPACY_PIPELINE) | $(BIN)/.installed
	$(RASA) train --data nlu/data stories --config config.yml --domain domain.yml \
		--out models --fixed-model-name fraudbot
	@touch $@

train: $(MODEL)

# Rasa's own checks (warnings count as errors, except responses only actions send) plus the
# project's: the same function the web admin runs before it saves an edit.
validate: $(BIN)/.installed
	$(BIN)/fraudbot validate

# The browser test drives Debian's Chromium through Playwright (nothing is downloaded at run
# time). As root with apt-get, install it when missing; otherwise say how.
BROWSER_PACKAGES := chromium fonts-wqy-microhei
browser:
	@command -v chromium >/dev/null || { test "$$(id -u)" = 0 && command -v apt-get >/dev/null && \
		{ apt-get install -y -q $(BROWSER_PACKAGES) || { apt-get update -q && apt-get install -y -q $(BROWSER_PACKAGES); }; }; } \
		|| echo "The browser test needs Chromium: sudo apt-get install $(BROWSER_PACKAGES)"

# Reading screenshots: OpenCV (a dependency of rapidocr-onnxruntime) needs libGL and GLib to
# import, and the OCR tests draw screenshots with a Chinese font. As root with apt-get, install
# them from Debian's packages when missing; otherwise say how.
OCR_PACKAGES := libgl1 libglib2.0-0 fonts-wqy-microhei
OCR_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
ocr-system:
	@{ ldconfig -p | grep -q 'libGL.so.1 ' && ldconfig -p | grep -q 'libglib-2.0.so.0 ' && test -f $(OCR_FONT); } \
		|| { test "$$(id -u)" = 0 && command -v apt-get >/dev/null && \
		{ apt-get install -y -q $(OCR_PACKAGES) || { apt-get update -q && apt-get install -y -q $(OCR_PACKAGES); }; }; } \
		|| echo "Reading screenshots needs: sudo apt-get install $(OCR_PACKAGES)"

# The fleet (make fleet, the fleet tests, bench/fleet.py) runs PostgreSQL, Redis and HAProxy from
# Debian's packages. As root with apt-get, install them when missing; otherwise say how. Nothing is
# started as a system service: bot/fleet.py runs each on its own directory and loopback port.
FLEET_PACKAGES := postgresql redis-server haproxy
fleet-system:
	@{ ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && command -v redis-server >/dev/null \
		&& { command -v haproxy >/dev/null || test -x /usr/sbin/haproxy; }; } \
		|| { test "$$(id -u)" = 0 && command -v apt-get >/dev/null && \
		{ apt-get install -y -q $(FLEET_PACKAGES) || { apt-get update -q && apt-get install -y -q $(FLEET_PACKAGES); }; }; } \
		|| echo "The fleet needs: sudo apt-get install $(FLEET_PACKAGES)"

# Two Rasa replicas and two action servers behind HAProxy, PostgreSQL (conversations and the
# project's store, kept in var/fleet), Redis (locks, shared send budgets), two alert workers and
# the web admin, on this machine (bot/fleet.py). The layout a police data centre runs, see README.
fleet: $(MODEL) fleet-system
	$(BIN)/python -m bot.fleet

lint: $(BIN)/.installed
	$(BIN)/ruff check bot nlu core actions tests bench

test: $(MODEL) validate lint browser ocr-system fleet-system
	$(BIN)/python -m pytest -q
	$(MAKE) test-stories

# The quick layer: no trained model, no browser, no PostgreSQL/Redis/HAProxy, no long waits
# (the markers are set in tests/conftest.py). `make test` runs everything.
test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -q -m "not model and not browser and not fleet and not slow"

# Renews docs/screenshots/ (the browser test writes to a temporary folder otherwise).
screenshots: $(MODEL) browser
	FRAUDBOT_SCREENSHOT_DIR=docs/screenshots $(BIN)/python -m pytest -q tests/test_admin_browser.py tests/test_review_browser.py \
		tests/test_daily_browser.py

test-stories: $(MODEL)
	$(BIN)/python -m bot.cli test-stories

# The store's schema first (bot/migrations), as its own step: a failed migration stops here, before anything starts.
serve: $(MODEL) ocr-system
	$(BIN)/fraudbot db upgrade
	$(BIN)/fraudbot serve

run: $(MODEL) ocr-system
	$(BIN)/fraudbot db upgrade
	$(BIN)/fraudbot serve --chat

admin: $(MODEL)
	$(BIN)/fraudbot admin serve

# Telegram without a public URL: long polling (needs TELEGRAM_BOT_TOKEN).
telegram: $(MODEL)
	@test -n "$$TELEGRAM_BOT_TOKEN" || { echo "set TELEGRAM_BOT_TOKEN first (see README)"; exit 1; }
	TELEGRAM_MODE=polling $(BIN)/fraudbot serve

clean:
	rm -rf models nlu/spacy .pytest_cache .ruff_cache results var
