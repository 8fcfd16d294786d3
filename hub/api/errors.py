"""Every API failure is JSON {"error": {"code", "message"}} with a 4xx status (5xx only for real bugs)."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, jsonify, request
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from ..services.errors import ServiceError

log = logging.getLogger(__name__)
API_PREFIX = "/api/"


def error_response(status: int, code: str, message: str, headers=None):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response


class ApiError(ServiceError):
    """A request-level problem found in a view (bad JSON, bad query parameter, auth)."""

    def __init__(self, status: int, code: str, message: str, headers=None):
        super().__init__(message, code)
        self.status = status
        self.headers = headers


def register_error_handlers(app: Flask, api: Blueprint) -> None:
    # Service errors from API views only; the web pages handle their own.
    @api.errorhandler(ServiceError)
    def _service_error(exc: ServiceError):
        return error_response(exc.status, exc.code, exc.message, getattr(exc, "headers", None))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not request.path.startswith(API_PREFIX):
            return exc  # HTML pages keep Flask's own error pages
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        if exc.code == 429:
            retry = exc.get_headers()
            for name, value in retry:
                if name.lower() == "retry-after":
                    response.headers["Retry-After"] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        if isinstance(exc, (OperationalError, InterfaceError)) and request.path.startswith(API_PREFIX):
            # the database is down, unreachable or locked for too long: not the client's fault, retry later
            log.error("database unavailable on %s %s: %s", request.method, request.path, exc.orig)
            return error_response(
                503, "database_unavailable", "the database is not available; try again shortly", {"Retry-After": "5"}
            )
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not request.path.startswith(API_PREFIX):
            raise exc
        return error_response(500, "internal_error", "internal error; it has been logged")
