"""The registration system: MammoRegNet trained self-supervised on prior/current pairs, evaluated against the phantom's true deformations."""
