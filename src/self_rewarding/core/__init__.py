"""Pure-Python core of the self-rewarding loop.

Everything here is plain data and rules: templates, record parsing, seed-data building,
score parsing. It imports no kedro, mlflow, dvc, great_expectations, torch, transformers,
trl or vllm, so it can be used from notebooks and unit-tested in milliseconds.
"""
