"""prefshare network package."""
