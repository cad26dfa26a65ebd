"""Shared by the public-key SDK scripts (discord_sdk.py, telnyx_sdk.py, sendgrid_sdk.py,
standard_webhooks_v1a_sdk.py): reading the test's key and header files. No signing or
verifying here: each script does that with the provider's own library."""
import importlib.util
import os
import sys

from cryptography.hazmat.primitives import serialization
from nacl.signing import SigningKey


def ed25519_signing_key(path):
    """The PKCS#8 PEM Ed25519 private key at `path` as a PyNaCl SigningKey."""
    key = serialization.load_pem_private_key(open(path, "rb").read(), password=None)
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    return SigningKey(seed)


def p256_private_key(path):
    """The PKCS#8 PEM P-256 private key at `path` (cryptography, as the sendgrid SDK uses)."""
    return serialization.load_pem_private_key(open(path, "rb").read(), password=None)


def read_headers(path):
    """`Name: value` lines (as `hookguard sign` prints them) as a dict."""
    headers = {}
    for line in open(path).read().splitlines():
        if line.strip():
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
    return headers


def print_headers(pairs):
    for name, value in pairs:
        print(f"{name}: {value}")


def usage(doc):
    sys.stderr.write(doc)
    sys.exit(64)


def telnyx_verification():
    """telnyx's own `lib/webhook_verification.py`, loaded from the installed package without
    running `telnyx/__init__.py` (which imports the whole generated API client, ~5 s)."""
    package = importlib.util.find_spec("telnyx")
    path = os.path.join(package.submodule_search_locations[0], "lib", "webhook_verification.py")
    spec = importlib.util.spec_from_file_location("telnyx_webhook_verification", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
