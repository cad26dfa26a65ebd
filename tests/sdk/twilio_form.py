"""A form body as Flask's MultiDict hands it to twilio's RequestValidator: repeated names
keep every value (`getall`), blank values kept."""

from urllib.parse import parse_qsl


class MultiDict(dict):
    def getall(self, name):
        return self[name]


def params(raw: bytes) -> MultiDict:
    out = MultiDict()
    for name, value in parse_qsl(raw.decode("utf-8"), keep_blank_values=True):
        out.setdefault(name, []).append(value)
    return out
