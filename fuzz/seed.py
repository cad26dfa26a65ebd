#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets from the published vectors.

Usage: python3 fuzz/seed.py [VECTORS_JSON]   (default: ../shared/vectors/published.json
beside the repository, else tests/data/published.json). Corpora go to fuzz/corpus/<target>/.
"""
import hashlib
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(here)
candidates = sys.argv[1:] or [
    os.path.join(repo, "..", "shared", "vectors", "published.json"),
    "/work/shared/vectors/published.json",
    os.path.join(repo, "tests", "data", "published.json"),
]
path = next(p for p in candidates if os.path.exists(p))
vectors = json.load(open(path))


def put(target, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


templates = {"{body}", "{timestamp}.{body}", "v0:{timestamp}:{body}", "{method} {path}\n{header:X-Id}"}
for v in vectors:
    body = v["body"].encode() if isinstance(v["body"], str) else bytes(v["body"])
    lines = "".join(f"{k}: {val}\n" for k, val in v["headers"].items()).encode()
    # headers: `Name: value` lines, an empty line, the body.
    put("headers", lines + b"\n" + body)
    # head: the delivery as an HTTP/1.1 request on the wire.
    head = f"{v.get('method', 'POST')} {v.get('path', '/')} HTTP/1.1\r\nHost: hooks.example.com\r\n"
    head += "".join(f"{k}: {val}\r\n" for k, val in v["headers"].items())
    head += f"Content-Length: {len(body)}\r\n\r\n"
    put("head", head.encode() + body)
    chunked = head.replace(f"Content-Length: {len(body)}", "Transfer-Encoding: chunked")
    put("head", chunked.encode() + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n" + head.encode() + body)
    if "payload" in v:
        templates.add(v["payload"])
for t in templates:
    put("template", t.encode() + b"\0x-id: 7\n\nbody")

with open(os.path.join(repo, "config.example.yaml"), "rb") as f:
    put("config", f.read())
put("config", b'listen: "127.0.0.1:0"\nroutes:\n  - name: r\n    path: /\n    upstream: http://127.0.0.1:1\n    verify: {scheme: github, secrets: [{id: a, value: k}]}\n')
print(f"seeded from {path}")
