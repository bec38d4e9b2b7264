"""Test helpers: a fake OpenAI-compatible model over a mock HTTP transport."""

from ._fake import FakeLLM, FakeReply, http_module

__all__ = ["FakeLLM", "FakeReply", "http_module"]
