"""The lesion latent-diffusion system: stage-1 autoencoder and attribute classifiers, stage-2 conditioned diffusion, lesion synthesis into mammograms."""
