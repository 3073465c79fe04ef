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
    for command in commands:
        if not command:
            raise ValueError("a Redis command needs at least its name")
        texts = [v for v in command if isinstance(v, str) and v.isascii()]
        if len(texts) == len(command):  # the common case: one string, encoded once
            text = "".join([f"${len(v)}\r\n{v}\r\n" for v in texts])
            out.append(b"*%d\r\n%s" % (len(texts), text.encode()))
            continue
        data = [_arg(v) for v in command]
        out.append(b"*%d\r\n" % len(data))
        out.append(b"".join([b"$%d\r\n%s\r\n" % (len(d), d) for d in data]))
    return b"".join(out)
