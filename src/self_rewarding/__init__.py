"""Self-Rewarding Language Models (Yuan et al., 2024, arXiv:2401.10020) as a Kedro project."""

__version__ = "0.1.0"
