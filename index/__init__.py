"""Indexing side of sourced: documents in, token-bounded chunks, sentences, vectors out."""
