"""Callastar's public event contracts: topic names, envelopes and payload models."""
