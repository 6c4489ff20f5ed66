"""Elasticsearch-shaped HTTP errors, as a cluster serves them to clients.

These are wire values, not Python errors for test authors (those derive from
`mockinfer.errors.MockinferError`). A handler raises `EsError`; the server renders it.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

#: Causes that are plain Java exceptions: ES looks for root causes only through its own
#: exception types (`ElasticsearchException.guessRootCauses`), so it stops above these.
_PLAIN_JAVA_TYPES = frozenset(
    {
        "illegal_argument_exception",
        "illegal_state_exception",
        "number_format_exception",
        "null_pointer_exception",
        "unsupported_operation_exception",
        "json_parse_exception",
    }
)


class EsError(Exception):
    """An error served as the ES error envelope, with `status` equal to the HTTP code."""

    def __init__(
        self,
        status: int,
        error_type: str,
        reason: str,
        *,
        caused_by: EsError | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.error_type = error_type
        self.reason = reason
        self.caused_by = caused_by
        self.headers = dict(headers or {})

    def cause(self, *, with_trace: bool = False) -> dict[str, Any]:
        """The `ErrorCause` object: type, reason, extra metadata, caused_by."""
        body: dict[str, Any] = {"type": self.error_type, "reason": self.reason}
        if with_trace:
            body["stack_trace"] = self._stack_trace()
        if self.caused_by is not None:
            body["caused_by"] = self.caused_by.cause(with_trace=with_trace)
        return body

    def body(self, *, with_trace: bool = False) -> dict[str, Any]:
        """The full envelope: `{"error": {root_cause, type, reason, ...}, "status": N}`."""
        root = self
        while root.caused_by is not None and root.caused_by.error_type not in _PLAIN_JAVA_TYPES:
            root = root.caused_by
        root_cause = {"type": root.error_type, "reason": root.reason}
        error = {"root_cause": [root_cause], **self.cause(with_trace=with_trace)}
        return {"error": error, "status": self.status}

    def openai_body(self) -> dict[str, Any]:
        """The OpenAI-style body that chat completion paths answer with (no `status`)."""
        code = _status_code_name(self.status)
        return {"error": {"code": code, "message": self.reason, "type": self.error_type}}

    def _stack_trace(self) -> str:
        java_name = "".join(part.capitalize() for part in self.error_type.split("_"))
        return f"org.elasticsearch.{java_name}: {self.reason}"


class ProviderError(EsError):
    """An error a model provider's API answers in its own body (OpenAI, Cohere, Hugging Face).

    `error_type` is the provider's type (OpenAI's `invalid_request_error`); `param` and `code`
    are OpenAI's fields of the same names, None where the provider has no such field.
    """

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, error_type, message, headers=headers)
        self.param = param
        self.code = code


class EsStringError(EsError):
    """A routing-level error whose `error` is a plain string, as ES answers unknown paths."""

    def body(self, *, with_trace: bool = False) -> dict[str, Any]:
        return {"error": self.reason, "status": self.status}


def _status_code_name(status: int) -> str:
    try:
        return HTTPStatus(status).name.lower()
    except ValueError:
        return "internal_server_error"


def bad_request(error_type: str, reason: str, **kwargs: Any) -> EsError:
    """A 400 with the given type and reason."""
    return EsError(400, error_type, reason, **kwargs)


def status_exception(reason: str, status: int = 400) -> EsError:
    """ES's `ElasticsearchStatusException`, the most common inference error."""
    return EsError(status, "status_exception", reason)


def validation_failed(
    *messages: str, error_type: str = "action_request_validation_exception"
) -> EsError:
    """ES's `ValidationException` text: `Validation Failed: 1: first;2: second;`."""
    numbered = "".join(f"{i}: {m};" for i, m in enumerate(messages, start=1))
    return EsError(400, error_type, f"Validation Failed: {numbered}")


def endpoint_not_found(inference_id: str) -> EsError:
    """404 for an inference id the registry does not hold."""
    return EsError(
        404, "resource_not_found_exception", f"Inference endpoint not found [{inference_id}]"
    )


def unknown_task_type(name: str) -> EsError:
    """400 for a task type segment or body field that names no task type."""
    return status_exception(f"Unknown task_type [{name}]")


def request_body_required() -> EsError:
    """400 for a POST or PUT that needs a body and has none."""
    return EsError(400, "parse_exception", "request body is required")
