"""The radiomics-conditioned CC->MLO cGAN as a registered System: perceptual network, training, evaluation, prediction, bench and demo."""
