"""mammo_nb.metrics: Evaluation metrics: risk, registration, image quality. (package marker, not generated: the modules are exported from nbs/)."""
