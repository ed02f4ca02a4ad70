"""The published systems, each a registered `mammo_nb.train.system.System` (one subpackage per system)."""
