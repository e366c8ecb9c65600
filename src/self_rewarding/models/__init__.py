"""Loading and saving models: the embedded default (GGUF -> safetensors) or any model."""
