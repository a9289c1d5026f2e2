"""Bearer tokens of the scoring daemon, shared by the server (``daemon/server.py``) and
:mod:`client`: reading a token file and checking a token.  Standard library only.

A token is 1 to 4096 visible ASCII characters (it travels in an ``Authorization`` header).  A
token file holds one, with optional surrounding whitespace; at most 4 KiB of it is read (the
path may name a device; process substitution such as ``<(pass show seqscore)`` works).
"""

from __future__ import annotations

import os

from .errors import ConfigError, InputUnreadableError

MAX_TOKEN_BYTES = 4096


def check_token(token: str, where: str) -> str:
    """A bearer token must be 1 to 4096 visible ASCII characters (it travels in an HTTP
    header); ``where`` names its source in the error."""
    if not token:
        raise ConfigError(f"{where} is empty; it must hold one token")
    if len(token) > MAX_TOKEN_BYTES or any(not 0x21 <= ord(c) <= 0x7E for c in token):
        raise ConfigError(f"{where} must hold one token of at most {MAX_TOKEN_BYTES} visible "
                          "ASCII characters (no spaces, control characters or other "
                          "alphabets); e.g. `openssl rand -hex 32`")
    return token


def read_token_file(path: str | os.PathLike) -> str:
    """The token in ``path`` (surrounding whitespace stripped).  A missing or unreadable file
    raises :class:`InputUnreadableError`; a binary, non-UTF-8, empty or oversized one (or one
    holding more than one word) :class:`ConfigError`."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            raw = fh.read(MAX_TOKEN_BYTES + 2)   # bounded: the path may be a device
    except OSError as exc:
        raise InputUnreadableError(f"cannot read token file {name}: "
                                   f"{exc.strerror or exc}") from None
    if len(raw) > MAX_TOKEN_BYTES + 1:
        raise ConfigError(f"token file {name} is larger than {MAX_TOKEN_BYTES} bytes; it must "
                          "hold one token (is it the right file?)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"token file {name} is not text (not UTF-8); it must hold one token "
                          "(is it the right file?)") from None
    return check_token(text.strip(), f"token file {name}")
