"""Use cases: they change state through the session and flush; the boundary commits."""
