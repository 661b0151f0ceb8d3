"""Container entrypoint: turns secret files into the values the apps read, then execs the command.

The apps take their database URL and client secret as environment values, but secrets are
mounted as files (Kubernetes Secret volumes, compose `secrets:`). Two conventions bridge that:

- `<NAME>_DATABASE_URL` may contain the placeholder `{password}`; it is replaced by the contents
  of the file named by `<NAME>_DATABASE_PASSWORD_FILE` (percent-encoded for the URL). The bare
  `DATABASE_URL`/`DATABASE_PASSWORD_FILE` pair is the administrative URL of `python -m ops migrate`.
- `<NAME>_CLIENT_SECRET_FILE` sets `<NAME>_CLIENT_SECRET` to the file's contents.

`GATEWAY_SIGNING_KEY_FILE` and other `*_FILE` settings are paths the apps open themselves and are
left alone. Standard library only: it runs before anything else in the image.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

PLACEHOLDER = "{password}"
URL_SUFFIX = "DATABASE_URL"
PASSWORD_FILE_SUFFIX = "DATABASE_PASSWORD_FILE"  # noqa: S105 - a variable name
CLIENT_SECRET_FILE_SUFFIX = "CLIENT_SECRET_FILE"  # noqa: S105 - a variable name


class EntrypointError(Exception):
    pass


def _read(path: str, var: str) -> str:
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise EntrypointError(f"{var}={path}: {exc.strerror or exc}") from None
    if not value:
        raise EntrypointError(f"{var}={path}: the file is empty")
    return value


def resolve(env: Mapping[str, str]) -> dict[str, str]:
    """The variables to set, computed from `env` (which is not changed)."""
    out: dict[str, str] = {}
    for name, value in env.items():
        if name.endswith(URL_SUFFIX) and PLACEHOLDER in value:
            password_var = name[: -len(URL_SUFFIX)] + PASSWORD_FILE_SUFFIX
            path = env.get(password_var)
            if not path:
                raise EntrypointError(f"{name} contains {PLACEHOLDER} but {password_var} is unset")
            password = quote(_read(path, password_var), safe="")
            out[name] = value.replace(PLACEHOLDER, password)
        elif name.endswith(CLIENT_SECRET_FILE_SUFFIX) and value:
            target = name[: -len("_FILE")]
            if not env.get(target):
                out[target] = _read(value, name)
    return out


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit("usage: entrypoint.py COMMAND [ARG...]")
    try:
        os.environ.update(resolve(os.environ))
    except EntrypointError as exc:
        sys.exit(f"entrypoint: {exc}")
    os.execvp(argv[0], argv)  # noqa: S606 - replaces this process with the configured command


if __name__ == "__main__":
    main(sys.argv[1:])
