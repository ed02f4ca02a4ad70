"""mammo_nb.data: Reading, preprocessing, the phantom, manifests, labels, the cache and the DataLoaders. (package marker, not generated: the modules are exported from nbs/)."""
