"""Redis commands as RESP bytes, packed by hand: the request hot path sends a whole
pipeline in one buffer without redis-py's per-argument machinery."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["Arg", "pack_commands"]

#: What a command's arguments may be: text (sent as UTF-8), bytes, or integers.
Arg = str | bytes | int


def _arg(value: Arg) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).encode()
    raise TypeError(f"a Redis argument must be str, bytes or int, not {type(value).__name__}")


def pack_commands(commands: Iterable[Sequence[Arg]]) -> bytes:
    """One buffer holding every command as a RESP array of bulk strings."""
    out: list[bytes] = []
    append = out.append
    for command in commands:
        if not command:
            raise ValueError("a Redis command needs at least its name")
        append(b"*%d\r\n" % len(command))
        for value in command:
            data = value.encode() if type(value) is str else _arg(value)  # text: most args
            append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)
