"""The reference hub: the programme's source of truth for points, catalog and customer profiles."""
