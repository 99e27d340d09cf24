"""Training code: never imported by the app."""
