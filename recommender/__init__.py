"""prefshare recommender package."""
