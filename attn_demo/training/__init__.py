"""Training: the emoji set, augmentation, the step and the loop, publishing a run."""
