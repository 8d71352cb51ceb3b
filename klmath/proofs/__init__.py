"""Placeholder: symbolic proof checks (issue 5)."""
