"""Excel import/export engine (see engine.py)."""
