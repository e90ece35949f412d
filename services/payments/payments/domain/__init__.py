"""Payments' pure rules, one module per concern; no I/O anywhere in here."""
