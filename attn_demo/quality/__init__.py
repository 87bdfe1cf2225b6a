"""Scores: FID-emoji and KID-emoji in a small feature net's space, and SWD."""
