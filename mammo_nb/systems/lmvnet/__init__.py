"""The LMV-Net system: longitudinal multi-view breast-cancer risk (registered priors, dual-stream attention, cumulative heads)."""
