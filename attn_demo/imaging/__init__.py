"""Pictures on the ground floor: drawing (colormaps, overlays, grids, PNG/JPEG) and image folders.

Serving and training both use these; neither imports the other for them.
"""
