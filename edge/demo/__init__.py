"""The demo store: seeded data so the till can be tried with no hardware and no network."""
