"""RFC 9457 problem details: every error a client sees has a stable ``type``, a status, and the field at fault."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from civic.identity import mask_in_text

log = logging.getLogger("civic.problems")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://civic.example.gov.cn/problems/"


class Problem(Exception):
    """Raise from a route or rule to answer with a problem document. ``kind`` is the stable type slug."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str | None = None,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.headers = headers or {}
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.field = field
        self.extra = extra


class NotFound(Problem):
    def __init__(self, what: str, detail: str | None = None) -> None:
        super().__init__(404, "not-found", f"{what} not found", detail)


class Conflict(Problem):
    def __init__(self, kind: str, title: str, detail: str | None = None, *, field: str | None = None) -> None:
        super().__init__(409, kind, title, detail, field=field)


def problem_response(
    request: Request, status: int, kind: str, title: str, detail: str | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": TYPE_BASE + kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = mask_in_text(request.url.path)  # paths may hold resident IDs (/elders/{id})
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _field_of(loc: tuple[Any, ...]) -> str:
    # FastAPI locations start with where the value came from ("body", "query", "path"); the field follows.
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path", "header") else list(map(str, loc))
    return ".".join(parts) or str(loc[0] if loc else "")


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    errors = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        message = str(err.get("msg", "invalid"))
        if err.get("type") == "extra_forbidden":
            message = "unknown field"
        # Never echo the input back: it may be a resident ID.
        errors.append({"field": _field_of(loc), "in": str(loc[0]) if loc else "body", "detail": message})
    return errors


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> JSONResponse:
        response = problem_response(request, exc.status, exc.kind, exc.title, exc.detail, field=exc.field, **exc.extra)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        fields = ", ".join(e["field"] for e in errors)
        return problem_response(
            request,
            422,
            "validation-error",
            "The request is not valid",
            f"Invalid fields: {fields}",
            field=errors[0]["field"] if errors else None,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}.get(exc.status_code, "http-error")
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(request, exc.status_code, kind, detail or "HTTP error")

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return problem_response(
            request,
            500,
            "internal-error",
            "Internal error",
            "The error was logged; quote the request id when asking about it.",
        )
