"""Cassettes: vcrpy's version-1 YAML with mockinfer's additions under each response."""
