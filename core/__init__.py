"""Medical-imaging second-opinion toolkit: everything that is not UI."""

__version__ = "0.1.0"
