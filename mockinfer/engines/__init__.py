"""Engines turn a validated call into a reply: synthesize, stubs, and (later) replay and record."""
