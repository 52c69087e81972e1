"""Clerk OAuth for Flask apps, above all Flask apps that serve the Model Context Protocol."""

from .errors import ConfigurationError
from .extension import ClerkMCP
from .protect import current_token, require_clerk, require_scopes
from .tokens import AccessToken

__all__ = [
    "AccessToken",
    "ClerkMCP",
    "ConfigurationError",
    "current_token",
    "require_clerk",
    "require_scopes",
]
__version__ = "0.1.0"
