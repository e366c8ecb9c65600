"""Project settings. https://docs.kedro.org/en/stable/kedro_project_setup/settings.html"""

from kedro.config import OmegaConfigLoader
from omegaconf.resolvers import oc

from self_rewarding.hooks import (
    ConfigCheckHooks,
    GenerationEngineHooks,
    MemoryHooks,
    ModelLineageHooks,
    RunContextHooks,
)

# kedro-mlflow registers its own hook through its entry point.
HOOKS = (
    ConfigCheckHooks(),
    ModelLineageHooks(),
    RunContextHooks(),
    GenerationEngineHooks(),
    MemoryHooks(),
)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment (test, paper) overrides single nested keys, not whole blocks.
    "merge_strategy": {"parameters": "soft"},
    # Environment variables in any config file (Kedro allows them in credentials only):
    # mlflow.yml takes MLFLOW_TRACKING_URI, so a shared tracking server needs no edit.
    "custom_resolvers": {"oc.env": oc.env},
}
