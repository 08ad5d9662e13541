"""The error every emulated AppFlow operation raises: an AWS error code, its HTTP status and a message.

Its own module so that the modules behind ``service.py`` (``flows``) can raise it without importing the
service that imports them; ``service`` re-exports both names for the modules that always took them from there.
"""

from __future__ import annotations

ERROR_STATUS = {
    "ValidationException": 400,
    "SerializationException": 400,
    "UnsupportedOperationException": 400,
    "ConnectorAuthenticationException": 401,
    "ServiceQuotaExceededException": 402,
    "AccessDeniedException": 403,
    "MissingAuthenticationTokenException": 403,
    "IncompleteSignatureException": 403,
    "ResourceNotFoundException": 404,
    "UnknownOperationException": 404,
    "ConflictException": 409,
    "RequestEntityTooLargeException": 413,
    "ThrottlingException": 429,
    "InternalServerException": 500,
}


class ApiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = ERROR_STATUS.get(code, 400)
        self.message = message
