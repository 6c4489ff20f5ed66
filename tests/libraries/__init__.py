"""Tests with other Python libraries, each in its own environment."""
