"""attn-demo: an interactive studio for a self-attention GAN.

Importing the package is cheap: torch and Gradio are imported by the modules
that need them, never at package import.
"""

__version__ = "0.1.0"
