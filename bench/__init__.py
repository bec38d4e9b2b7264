"""Benchmarks of llm-contracts against the raw openai client and instructor (see README.md)."""
