"""Models of applications (built under its issue)."""
