"""Domain logic as plain functions taking a SQLAlchemy connection (never `request`).

Write functions wrap themselves in `hub.db.atomic`; read functions just query.
Failures raise `ServiceError` subclasses carrying an error code for the API.
"""

from .errors import Conflict, Forbidden, Invalid, NotFound, ServiceError

__all__ = ["Conflict", "Forbidden", "Invalid", "NotFound", "ServiceError"]
