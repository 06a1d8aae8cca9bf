"""Health checks and the read-only view of their state that routing consults."""
