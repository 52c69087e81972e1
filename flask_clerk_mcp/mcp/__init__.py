"""MCP authorization pieces: discovery documents (and, later, the OAuth proxy)."""
