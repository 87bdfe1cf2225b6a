"""A model as pictures: the engine (render, inspect), the attention probe, the canvas."""
