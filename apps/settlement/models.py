"""Models of settlement (built under its issue)."""
