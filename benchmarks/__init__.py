"""hothat benchmarks: run with ``make bench`` or ``python -m benchmarks``. Not part of ``make test``."""
