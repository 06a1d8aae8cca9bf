"""Differential tests against an independent implementation (Knot DNS)."""
