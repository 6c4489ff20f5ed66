"""The `minilm` generator: real all-MiniLM-L6-v2 embeddings and cosine rerank scores."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mockinfer.plugins import EmbeddingRequest, Refusal, RerankRequest

from mockinfer_minilm import __version__
from mockinfer_minilm.weights import DIMENSIONS, locate

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from mockinfer_minilm.model import MiniLMModel


#: Rerank scores stay inside (0, 1), as a rerank model's do, even for a document equal to
#: the query: these are the float32 numbers next to 0 and 1.
_LOWEST = 1.401298464324817e-45
_HIGHEST = 0.99999994039535522


class MiniLM:
    """Embeds with all-MiniLM-L6-v2 (384 dimensions) and reranks by cosine similarity.

    The weights are read on the first request, from `home` when given, else from the folder
    `mockinfer-minilm install` fills. Answers are deterministic: the same text gets the same
    bytes on one machine, whatever else is in its request. Safe to call from several threads.
    """

    name: str = "minilm"
    version: str = __version__
    tasks: frozenset[str] = frozenset({"text_embedding", "embedding", "rerank"})
    deterministic: bool = True
    #: The id Eland gives the model when it imports it, and its Hugging Face ids.
    models: tuple[str, ...] = (
        "sentence-transformers__all-minilm-l6-v2",
        "sentence-transformers/all-minilm-l6-v2",
        "all-minilm-l6-v2",
    )
    services: tuple[str, ...] = ()

    def __init__(self, home: Path | None = None) -> None:
        self._home = home

    def _model(self) -> MiniLMModel:
        # Imported here so that discovering the plugin costs neither numpy nor tokenizers.
        from mockinfer_minilm.model import load

        return load(self._home or locate().folder)

    def embed(self, request: EmbeddingRequest) -> npt.NDArray[np.float32]:
        """One L2-normalised float32 row of 384 per text; other dimensions are refused."""
        if request.dimensions != DIMENSIONS:
            raise Refusal(
                400,
                f"The retrieved embeddings size [{DIMENSIONS}] does not match the size "
                f"specified in the settings [{request.dimensions}]. Please recreate the "
                f"[{request.target.inference_id}] configuration with the correct dimensions",
            )
        return self._model().embed(request.texts)

    def rerank(self, request: RerankRequest) -> list[float]:
        """(cosine + 1) / 2 between the query and each document, in the documents' order,
        kept inside (0, 1)."""
        model = self._model()
        query = model.embed_one(request.query).astype("float64")
        documents = model.embed(request.documents).astype("float64")
        # Row by row rather than one matrix-vector product, whose rounding of a row would
        # depend on how many documents came with it.
        cosines = (documents * query).sum(axis=1)
        return [min(max((float(cosine) + 1.0) / 2.0, _LOWEST), _HIGHEST) for cosine in cosines]
