"""Every service a cluster accepts, created through the official client's typed `put_<service>`."""

from __future__ import annotations

import re
from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from mockinfer.wire.services import SECRET_SETTINGS, SERVICES

#: put_<method>, the id parameter's name, the service literal, a task type.
CLIENT_METHODS = {
    "ai21": ("put_ai21", "ai21_inference_id", "completion"),
    "alibabacloud-ai-search": ("put_alibabacloud", "alibabacloud_inference_id", "sparse_embedding"),
    "amazonbedrock": ("put_amazonbedrock", "amazonbedrock_inference_id", "text_embedding"),
    "amazon_sagemaker": ("put_amazonsagemaker", "amazonsagemaker_inference_id", "rerank"),
    "anthropic": ("put_anthropic", "anthropic_inference_id", "chat_completion"),
    "azureaistudio": ("put_azureaistudio", "azureaistudio_inference_id", "rerank"),
    "azureopenai": ("put_azureopenai", "azureopenai_inference_id", "text_embedding"),
    "cohere": ("put_cohere", "cohere_inference_id", "rerank"),
    "contextualai": ("put_contextualai", "contextualai_inference_id", "rerank"),
    "custom": ("put_custom", "custom_inference_id", "text_embedding"),
    "deepseek": ("put_deepseek", "deepseek_inference_id", "chat_completion"),
    "elasticsearch": ("put_elasticsearch", "elasticsearch_inference_id", "text_embedding"),
    "elser": ("put_elser", "elser_inference_id", "sparse_embedding"),
    "fireworksai": ("put_fireworksai", "fireworksai_inference_id", "chat_completion"),
    "googleaistudio": ("put_googleaistudio", "googleaistudio_inference_id", "completion"),
    "googlevertexai": ("put_googlevertexai", "googlevertexai_inference_id", "rerank"),
    "groq": ("put_groq", "groq_inference_id", "chat_completion"),
    "hugging_face": ("put_hugging_face", "huggingface_inference_id", "text_embedding"),
    "jinaai": ("put_jinaai", "jinaai_inference_id", "embedding"),
    "llama": ("put_llama", "llama_inference_id", "text_embedding"),
    "mistral": ("put_mistral", "mistral_inference_id", "completion"),
    "nvidia": ("put_nvidia", "nvidia_inference_id", "rerank"),
    "openai": ("put_openai", "openai_inference_id", "completion"),
    "openshift_ai": ("put_openshift_ai", "openshiftai_inference_id", "rerank"),
    "voyageai": ("put_voyageai", "voyageai_inference_id", "text_embedding"),
    "watsonxai": ("put_watsonx", "watsonx_inference_id", "completion"),
}


def _settings(service: str) -> dict[str, Any]:
    spec = SERVICES[service]
    settings: dict[str, Any] = {name: f"{name}-value-0123456789" for name in spec.required}
    settings.update({group[0]: f"{group[0]}-value-0123456789" for group in spec.one_of})
    for name in ("num_threads", "num_allocations"):
        if name in settings:
            settings[name] = 1
    return settings


#: Services the 9.x client has no typed `put_<service>` for: created with the generic `put`.
WITHOUT_CLIENT_METHOD = {"elastic", "hugging_face_elser", "tencentcloud"}


def test_every_catalogued_service_has_a_client_method() -> None:
    assert set(CLIENT_METHODS) == set(SERVICES) - WITHOUT_CLIENT_METHOD


@pytest.mark.parametrize("service", sorted(WITHOUT_CLIENT_METHOD - {"elastic"}))
def test_services_without_a_typed_method_through_put(es: Elasticsearch, service: str) -> None:
    task_type = sorted(t.value for t in SERVICES[service].task_types)[0]
    created = es.inference.put(
        inference_id=f"{service.replace('_', '-')}-endpoint",
        task_type=task_type,
        inference_config={"service": service, "service_settings": _settings(service)},
    )
    assert created["service"] == service


def test_services_lists_what_elasticsearch_lists(es: Elasticsearch) -> None:
    def listed(path: str) -> dict[str, list[str]]:
        return {s["service"]: s["task_types"] for s in es.perform_request("GET", path).body}

    every = listed("/_inference/_services")
    assert not {"custom", "elser", "hugging_face_elser"} & set(every)
    assert "completion" not in every["elastic"]
    sparse = listed("/_inference/_services/sparse_embedding")
    assert "hugging_face" in sparse and "elasticsearch" in sparse
    assert listed("/_inference/_services/any") == every


@pytest.mark.parametrize("service", sorted(CLIENT_METHODS))
def test_put_service_then_get_hides_secrets(es: Elasticsearch, service: str) -> None:
    method, id_param, task_type = CLIENT_METHODS[service]
    inference_id = re.sub(r"[^a-z0-9]", "-", service) + "-endpoint"
    extra = {"task_settings": {"max_tokens": 10}} if service == "anthropic" else {}
    created = getattr(es.inference, method)(
        task_type=task_type,
        service=service,
        service_settings=_settings(service),
        **{id_param: inference_id},
        **extra,
    )
    assert created["inference_id"] == inference_id
    assert created["task_type"] == task_type
    stored = es.inference.get(inference_id=inference_id)["endpoints"][0]
    assert stored == created.body
    assert not SECRET_SETTINGS & set(stored["service_settings"])
    assert "0123456789" not in str(
        {k: v for k, v in stored["service_settings"].items() if k in SECRET_SETTINGS}
    )


@pytest.mark.parametrize("service", sorted(s for s in CLIENT_METHODS if SERVICES[s].required))
def test_missing_required_setting_is_named(es: Elasticsearch, service: str) -> None:
    method, id_param, task_type = CLIENT_METHODS[service]
    settings = _settings(service)
    missing = SERVICES[service].required[0]
    del settings[missing]
    with pytest.raises(BadRequestError) as info:
        getattr(es.inference, method)(
            task_type=task_type,
            service=service,
            service_settings=settings,
            **{id_param: "incomplete"},
        )
    assert info.value.body["error"]["type"] == "validation_exception"
    assert (
        f"does not contain the required setting [{missing}]" in info.value.body["error"]["reason"]
    )
