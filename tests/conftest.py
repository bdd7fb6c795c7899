"""Shared pytest fixtures for the realtime_sync suite."""
