"""Helpers shared by the control plane's apps."""
