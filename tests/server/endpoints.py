"""Creating endpoints the tests need, through the official client."""

from __future__ import annotations

from elasticsearch import Elasticsearch


def put_openai(es: Elasticsearch, inference_id: str, task_type: str) -> None:
    """An OpenAI endpoint (gpt-4o) of the given task type."""
    es.inference.put(
        inference_id=inference_id,
        task_type=task_type,
        inference_config={
            "service": "openai",
            "service_settings": {"api_key": "k", "model_id": "gpt-4o"},
        },
    )
