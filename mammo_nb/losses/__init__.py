"""mammo_nb.losses: Loss functions of every model. (package marker, not generated: the modules are exported from nbs/)."""
