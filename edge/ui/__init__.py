"""The Textual till. Only this package imports Textual."""
