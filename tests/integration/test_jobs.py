"""Placeholder until its issue-10 tests land."""
