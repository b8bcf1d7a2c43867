"""The admin console: operators and LMS administrators manage registrations, keys and programmes."""
from .blueprint import bp

__all__ = ["bp"]
