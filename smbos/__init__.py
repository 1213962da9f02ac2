"""SMBOS: an operator's control plane for a fleet of NanoClaw agents."""

__version__ = "0.1.0"
