"""Shared types and source handling: the lowest layer, imported by all others."""
