"""store-edge: the store side of a retail loyalty programme."""

__version__ = "0.1.0"
