"""Engines answer requests with typed results.

Faults, stubs, the cassette (replay and record) and synthesis: one module each.
"""
