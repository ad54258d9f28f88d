"""Credential health monitoring for Dynamics 365 / Dataverse integration identities."""

__version__ = "0.1.0"
