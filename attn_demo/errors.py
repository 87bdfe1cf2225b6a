"""Errors a user can cause and fix. Each message says what is wrong and what to do.

The CLI prints them as one line (exit code 2); the UI turns them into gr.Error.
Anything else that escapes is a bug in attn-demo.
"""
import errno


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


# A full disk (or a spent quota) is the user's or the host's to fix, not a bug: the studio's guard and
# the CLI say so in one line instead of "internal error (OSError)". The writers keep what was saved
# whole (atomic writes, fresh export folders): the message says that this export was not saved.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS


def disk_full_message(e: OSError) -> str:
    where = f" writing {e.filename}" if getattr(e, "filename", None) else ""
    return (f"the disk is full ({e.strerror or 'no space left'}{where}): this was not saved, and "
            "what was saved before is whole; free some space and try again")
