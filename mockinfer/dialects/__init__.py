"""Dialects: how typed results, stream events and errors are written on the wire.

Engines answer with `mockinfer.wire.results`; the server picks a dialect per route and asks
it for bytes. Adding a wire format (another API, another provider's shapes) means adding a
dialect here, not touching the engines.
"""

from mockinfer.dialects.base import Dialect
from mockinfer.dialects.es import ES, ES_CHAT
from mockinfer.dialects.ml import ML

__all__ = ["ES", "ES_CHAT", "ML", "Dialect"]
