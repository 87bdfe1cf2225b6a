"""Errors a user can cause and fix. Each message says what is wrong and what to do.

The CLI prints them as one line (exit code 2); the UI turns them into gr.Error.
Anything else that escapes is a bug in attn-demo.
"""


class AttnDemoError(ValueError):
    """Base class: bad input from a user, a file or an API call."""


class ConfigError(AttnDemoError):
    """A config.json or config value that does not describe a valid model."""


class CheckpointError(AttnDemoError):
    """A model directory or checkpoint file that cannot be loaded safely."""


class InputError(AttnDemoError):
    """An out-of-range, non-finite or malformed argument (seed, click, slider, ...)."""


class DataError(AttnDemoError):
    """A training data folder that cannot be used."""


class BusyError(AttnDemoError):
    """The server refuses a heavy request for now (too many of its kind at once): try again later."""
