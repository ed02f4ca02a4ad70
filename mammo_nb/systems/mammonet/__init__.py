"""The Mammo-Net system: gaze-supervised two-view mammogram classification (cross-view attention, BFL, pyramid loss against the radiologist's gaze)."""
