"""What every Python script here shares: the body on stdin, headers as `Name: value`
arguments, and the verdict a verifier prints (`valid`, exit 0; `invalid: why`, exit 3).
Any other exit (an uncaught exception exits 1) means the script itself broke."""

import sys


def body() -> bytes:
    """The delivery's body, exactly the bytes on stdin."""
    return sys.stdin.buffer.read()


def headers(args: list) -> dict:
    """`Name: value` arguments as a dict (names as given; the SDKs fold case themselves)."""
    pairs = {}
    for arg in args:
        name, sep, value = arg.partition(":")
        if not sep:
            sys.exit(f"not a `Name: value` header: {arg!r}")
        pairs[name.strip()] = value.strip()
    return pairs


def print_headers(pairs: list) -> None:
    """Prints the headers a sender attaches, one `Name: value` a line (as `hookguard sign`)."""
    for name, value in pairs:
        print(f"{name}: {value}")


def verdict(ok: bool, why: str = "the SDK rejected it") -> None:
    """Prints the SDK's verdict and exits 0 (valid) or 3 (invalid)."""
    if ok:
        print("valid")
        sys.exit(0)
    print(f"invalid: {why}")
    sys.exit(3)
