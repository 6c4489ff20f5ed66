"""all-MiniLM-L6-v2 sentence embeddings and rerank scores for mockinfer, computed with numpy.

The generator (`mockinfer_minilm.generator.MiniLM`) is found by mockinfer through the
`mockinfer.generators` entry point; `mockinfer-minilm install` fetches its weights once.
Importing this package loads nothing: the weights are read on the first embedding.
"""

__version__ = "0.1.0"
