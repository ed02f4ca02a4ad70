"""mammo_nb.models: Backbones and the published models. (package marker, not generated: the modules are exported from nbs/)."""
