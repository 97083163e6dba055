"""Models of prescriptions (built under its issue)."""
