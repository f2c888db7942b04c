"""Choosing and describing store locations."""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

DEFAULT_ENV = "CONDUCTOR_STORE_URL"
SURREAL_ENV = "SURREAL_URL"


def default_url() -> str:
    """``$CONDUCTOR_STORE_URL``, else ``$SURREAL_URL``, else JSON files in the user data dir."""
    url = os.environ.get(DEFAULT_ENV) or os.environ.get(SURREAL_ENV)
    if url:
        return url
    import platformdirs

    return "json://" + platformdirs.user_data_dir("conductor-store")


def split_scheme(url: str) -> tuple[str, str]:
    """``("json", "/abs/path")`` for ``json:///abs/path``; a plain path is ``("json", path)``."""
    match = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*)://(.*)\Z", url, re.S)
    if not match:
        return "json", url
    return match.group(1).lower(), match.group(2)


_SECRET_PARAM = re.compile(r"(?i)((?:^|&)(?:pass|password|pwd|secret|token)=)[^&]*")


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (in the user info, and as the value of
    a ``password``/``pass``/``pwd``/``secret``/``token`` query parameter)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"://[^@/]*@", "://***@", url)
    query = _SECRET_PARAM.sub(r"\1***", parts.query)
    if parts.password is None:
        return url if query == parts.query else urlunsplit(parts._replace(query=query))
    netloc = parts.netloc.rsplit("@", 1)
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[-1]}", query=query))
