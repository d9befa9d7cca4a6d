"""Query side of sourced: retrieval, answer extraction, citations, CLI and HTTP API."""
