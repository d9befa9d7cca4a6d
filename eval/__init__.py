"""Evaluation of sourced: dev question sets, scoring functions and the eval runner."""
