"""mammo_nb.train: The dict-batch fastai Learner, its callbacks and the training recipes. (package marker, not generated: the modules are exported from nbs/)."""
