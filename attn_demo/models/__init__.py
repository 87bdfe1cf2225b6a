"""What is trained and served: configs, layers, attention, the networks, latents, inference folds, checkpoints."""
