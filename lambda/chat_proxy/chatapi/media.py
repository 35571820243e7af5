"""Media URLs a caller may make the model container fetch: ``data:`` always, ``https`` only to listed hosts.

Why the proxy checks: both engines fetch an http(s) media URL themselves, from inside the model container, on the
caller's behalf.

* vLLM 0.29 (``vllm/multimodal/media/connector.py``, ``MediaConnector.load_from_url``) fetches every ``http*``
  URL of an ``image_url``, ``input_image``, ``audio_url`` or ``video_url`` part (``vllm/entrypoints/chat_utils.py``,
  ``MM_PARSER_MAP``); it checks the host only when ``--allowed-media-domains`` is set, and follows redirects unless
  ``VLLM_MEDIA_URL_ALLOW_REDIRECTS=0`` (``vllm/envs.py``, default 1). ``file:`` URLs are read from disk under
  ``--allowed-local-media-path``.
* TGI 3.3.6 (``router/src/validation.rs``, ``fetch_image``) fetches ``![](http://...)``/``![](https://...)``
  found anywhere in a vision model's prompt text with ``reqwest::blocking::get`` (redirects followed, no host
  list); its chat route turns ``image_url`` parts into exactly that markdown.

So a URL reaching either engine could make the container read instance metadata or internal addresses and relay
the status in the error. The rules, applied to the JSON body the proxy is about to send:

* a media URL is accepted when it is a ``data:`` URL, or an ``https`` URL whose host, after normalisation
  (percent-decoding, lower case, IDNA to ASCII, trailing dot dropped), is exactly one of ``IMAGE_URL_DOMAINS``;
  never with userinfo (``https://allowed.example@evil/``), an explicit port other than 443, an IP literal, or
  characters a URL parser may read differently (backslashes, whitespace, control characters);
* parts that carry raw tensors or server-side objects (``image_embeds``, ``audio_embeds``, ``video_embeds``,
  ``prompt_embeds``, ``image_pil``) and top-level ``multi_modal_data``/``prompt_embeds`` are refused;
* on TGI, a markdown image in prompt text whose target is not a ``data:`` URL is written ``![ ](...)``, which TGI's
  pattern does not match (``defuse_tgi_text``): a prompt about markdown still works, and nothing is fetched. TGI
  has no host list, so on TGI only ``data:`` media URLs are accepted.

A refusal is a 400 naming the field path (``messages[0].content[1].image_url.url``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from chatapi.errors import ApiError

IMAGE_URL_DOMAINS = "IMAGE_URL_DOMAINS"
# Part fields vLLM fetches a URL from: the field holds {"url": ...} or the URL itself (chat_utils.MM_PARSER_MAP).
URL_FIELDS = ("image_url", "audio_url", "video_url")
# Raw tensors / server objects: vLLM deserialises these (torch) or cannot receive them over JSON: never forwarded.
REFUSED_FIELDS = ("image_embeds", "audio_embeds", "video_embeds", "prompt_embeds", "image_pil", "multi_modal_data")
# A hostname (RFC 1123 labels) after IDNA encoding.
HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# TGI's own pattern for images in a prompt (router/src/validation.rs, prepare_input): ``!\[\]\([^\)]*\)``.
TGI_MARKDOWN_IMAGE = re.compile(r"!\[\]\(([^\)]*)\)")
UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


def _refuse(param: str, why: str) -> ApiError:
    return ApiError(
        400,
        f"Invalid media URL in '{param}': {why}. Send the media inline as a data: URL (data:image/png;base64,...)",
        param=param,
        code="invalid_media_url",
    )


def normalize_host(host: str) -> str | None:
    """``host`` as DNS would see it (percent-decoded, lower case, IDNA/punycode, no trailing dot), or None when it
    is no plain DNS name (empty, an IP literal in any notation, bad labels)."""
    host = unquote(host).strip().rstrip(".").lower()
    if not host or host.startswith("[") or UNSAFE_CHARS.search(host) or "%" in host:
        return None
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = ascii_host.split(".")
    if not all(HOST_LABEL.match(label) for label in labels):
        return None
    # Decimal, octal or hex forms (2130706433, 0x7f.1, 127.1) are IPv4 to many resolvers: refuse an all-numeric
    # last label, which no public DNS name has (RFC 3696 section 2).
    if re.fullmatch(r"(0x[0-9a-f]*|[0-9]+)", labels[-1]):
        return None
    try:
        ipaddress.ip_address(ascii_host)
    except ValueError:
        return ascii_host
    return None


def parse_domains(raw: str) -> tuple[str, ...]:
    """``IMAGE_URL_DOMAINS`` (comma-separated host names) normalised; ValueError naming a bad entry."""
    domains = []
    for item in (d.strip() for d in raw.split(",")):
        if not item:
            continue
        host = normalize_host(item)
        if host is None or "%" in item:
            raise ValueError(f"{item!r} is not a plain DNS host name (no scheme, port, path, IP or wildcard)")
        domains.append(host)
    return tuple(dict.fromkeys(domains))


def check_url(url: Any, param: str, allowed: Iterable[str]) -> None:
    """Raise the 400 unless ``url`` is a ``data:`` URL or an https URL to exactly an allowed host."""
    if not isinstance(url, str):
        raise _refuse(param, "expected a string")
    if url[:5].lower() == "data:":
        return
    allowed = tuple(allowed)
    if UNSAFE_CHARS.search(url):
        raise _refuse(param, "whitespace, control characters and backslashes are not allowed")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "https":
        raise _refuse(param, "only data: URLs" + (" and https URLs" if allowed else "") + " are accepted")
    if not allowed:
        raise _refuse(param, "this deployment fetches no remote media (no image_url_domains configured)")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in authority or "%40" in authority.lower():
        raise _refuse(param, "user information (user@host) is not allowed")
    host, _, port = authority.rpartition(":") if authority.count(":") == 1 else (authority, "", "")
    if port not in ("", "443"):
        raise _refuse(param, "only the default https port is allowed")
    normalized = normalize_host(host)
    if normalized is None:
        raise _refuse(param, "the host must be a DNS name (IP addresses are not allowed)")
    if normalized not in allowed:
        raise _refuse(param, f"host {normalized!r} is not one of the allowed media hosts ({', '.join(allowed)})")


def check_media(body: Any, allowed: Iterable[str], path: str = "") -> None:
    """Check every media field anywhere in the JSON ``body`` the proxy sends to the engine (see module doc)."""
    allowed = tuple(allowed)
    if isinstance(body, list):
        for i, item in enumerate(body):
            check_media(item, allowed, f"{path}[{i}]")
        return
    if not isinstance(body, dict):
        return
    for key, value in body.items():
        where = f"{path}.{key}" if path else key
        if key in REFUSED_FIELDS and value is not None:
            raise ApiError(
                400, f"'{where}' is not accepted: send media as data: URLs.", param=where, code="unsupported_parameter"
            )
        if key in URL_FIELDS and isinstance(value, dict | str):
            if isinstance(value, dict):
                check_url(value.get("url"), f"{where}.url", allowed)
            else:
                check_url(value, where, allowed)
            continue
        if isinstance(value, dict | list):
            check_media(value, allowed, where)


def defuse_tgi_text(text: str) -> str:
    """``text`` with every markdown image whose target is not a ``data:`` URL written ``![ ](...)``: TGI's pattern
    (``!\\[\\]\\(``) no longer matches, so its router fetches nothing, and the model still reads the link."""

    def defuse(match: re.Match[str]) -> str:
        return match.group(0) if match.group(1).lstrip()[:5].lower() == "data:" else "![ ](" + match.group(1) + ")"

    return TGI_MARKDOWN_IMAGE.sub(defuse, text)


def defuse_tgi_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A TGI ``{"inputs", ...}`` payload or chat body with every prompt text defused (``defuse_tgi_text``)."""
    if isinstance(payload.get("inputs"), str):
        return {**payload, "inputs": defuse_tgi_text(payload["inputs"])}
    messages = payload.get("messages")
    if not isinstance(messages, list):
        return payload
    defused = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            message = {**message, "content": defuse_tgi_text(content)}
        elif isinstance(content, list):
            parts = [
                {**p, "text": defuse_tgi_text(p["text"])} if isinstance(p, dict) and isinstance(p.get("text"), str)
                else p
                for p in content
            ]  # fmt: skip
            message = {**message, "content": parts}
        defused.append(message)
    return {**payload, "messages": defused}
