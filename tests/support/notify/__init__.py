"""Alert receivers and fixtures shared by the alerting tests."""
