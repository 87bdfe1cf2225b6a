"""The benchmark suite (outside the product package): python -m bench --help."""
