"""mammo_nb.registration: Spatial transforms and learned registration of prior exams. (package marker, not generated: the modules are exported from nbs/)."""
