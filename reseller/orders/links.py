"""When two order links name the same target: `link_key(link)`, a comparison key.

Two orders of the same upstream service on one link run side by side at the provider: both
start from the same count, their deliveries overlap and the provider reports one or both as
done while the customer got less (an underrun). So a new order waits while its link already has
an active order for that service, and "its link" has to see through the many ways of writing
one target: with or without a scheme, `www.` or `m.`, a trailing slash, a share button's
tracking parameters, a username's case. The key is only compared; the customer's own link is
what goes upstream, unchanged.

The rule is conservative. Two keys that should have been one only let two orders run together
(as they would without this rule); one key for two different targets holds a customer's order
back for nothing. So links share a key only when they surely name the same target; when
unsure, they stay distinct.

Every web link: scheme (http, https or none), `www.`/`m.`/`mobile.`, port 80 or 443, trailing
slashes and the fragment are dropped (a `#/…` or `#!…` hash route is kept: single-page sites use
it as a path); the host is lowercased; tracking parameters (`utm_*`, `fbclid`, `gclid`,
`igshid`, …, plus each platform's own) are dropped and the others kept, sorted.

Per platform (aliases: instagr.am, twitter.com, telegram.me, fb.com, youtube-nocookie.com):
- Instagram: a profile is its lowercased username, also from its `reels`/`tagged` tab or with
  `?hl=`; a post, reel or IGTV video is its case-sensitive shortcode, one key for `/p/`,
  `/reel/`, `/reels/`, `/tv/` and `/<user>/p/` (Instagram opens the same media for all); a story
  is its username and ID. A comment link or any other page stays as written.
- YouTube: a video is its ID, whichever page shows it (`watch?v=`, youtu.be, `shorts`, `embed`,
  `live`), so `t`, `list`, `si` and the rest go; a channel is its lowercased `@handle` (its
  tabs included) or its `channel/ID`. `/c/` and `/user/` names keep their case.
- X/Twitter: a post is its status ID, whoever the link names as author; a profile is its
  lowercased username (tabs included).
- TikTok: a profile is its lowercased `@user`; a video or photo post its user and numeric ID
  (the user kept: not sure TikTok ignores it). vm./vt. short links cannot be resolved offline
  and stay as written.
- Telegram: a channel or user is its lowercased name, `s/` (the web preview) included; a post is
  name and number. Queries (`?comment=`, `?start=`) name targets there and are kept. Invite
  hashes keep their case; `+HASH` and `joinchat/HASH` stay distinct.
- Facebook: host aliases and tracking only; paths keep their case.
On these hosts the query of a recognised profile, post or video is dropped (Telegram aside):
the path names the target. Anything unrecognised falls back to the rule for every web link.

A bare username (`@Name`, or `name` with no dot) becomes `@name`: some services take a username,
not a link, and it is never merged with a profile URL (whether they compare is the service
type's business). Anything else that is not a web link (empty, another scheme, a host with
spaces, a bad port, a user:password@) is compared by its own trimmed text.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlsplit

Pairs = list[tuple[str, str]]

WEB_SCHEMES = frozenset({"http", "https"})
SCHEME_CHARS = frozenset(string.ascii_letters + string.digits + "+-.")
WEB_PORTS = (80, 443)  # a key has no scheme, so either is the default
HOST_PREFIXES = ("www.", "m.", "mobile.")
HOST_ALIASES = {
    "instagr.am": "instagram.com",
    "youtube-nocookie.com": "youtube.com",
    "twitter.com": "x.com",
    "telegram.me": "t.me",
    "telegram.dog": "t.me",
    "fb.com": "facebook.com",
    "web.facebook.com": "facebook.com",
}

# Click and share identifiers: they say who shared or clicked, never what.
TRACKING = frozenset({"fbclid", "gclid", "msclkid", "yclid", "igshid", "igsh"})
TIKTOK_TRACKING = frozenset(
    {"_r", "_t", "is_from_webapp", "is_copy_url", "sender_device", "sender_web_id"}
    | {"share_app_id", "share_link_id", "tt_from", "u_code"}
)
# Only where the platform is known to use them for that: `ref`, `s` or `t` name things elsewhere.
PLATFORM_TRACKING = {
    "instagram.com": frozenset({"hl", "img_index"}),
    "youtube.com": frozenset({"si", "feature", "pp"}),
    "youtu.be": frozenset({"si", "feature"}),
    "x.com": frozenset({"s", "t", "ref_src", "ref_url", "src"}),
    "tiktok.com": TIKTOK_TRACKING,
    "vm.tiktok.com": TIKTOK_TRACKING,
    "vt.tiktok.com": TIKTOK_TRACKING,
    "facebook.com": frozenset({"mibextid", "rdid", "sfnsn", "ref", "__tn__"}),
    "open.spotify.com": frozenset({"si"}),
    "soundcloud.com": frozenset({"si"}),
}

ID_CHARS = frozenset(string.ascii_letters + string.digits + "-_")  # shortcodes, video IDs
INSTAGRAM_MEDIA = frozenset({"p", "reel", "reels", "tv"})
# First path segments that are pages, not accounts (their query may matter: x.com/search?q=).
NOT_ACCOUNTS = {
    "instagram.com": frozenset(
        {"explore", "accounts", "direct", "stories", "about", "legal", "web", "developer"}
        | INSTAGRAM_MEDIA
    ),
    "x.com": frozenset(
        {"search", "share", "intent", "compose", "home", "explore", "notifications", "i"}
        | {"messages", "settings", "login", "logout", "signup", "hashtag", "tos", "privacy"}
    ),
}
# Tabs of an account's page: still the account (its `reels` tab is not one reel).
ACCOUNT_TABS = {
    "instagram.com": frozenset({"reels", "tagged"}),
    "youtube.com": frozenset(
        {"featured", "videos", "shorts", "streams", "playlists", "community", "about"}
    ),
    "x.com": frozenset({"with_replies", "media", "likes", "highlights"}),
}


def link_key(link: str) -> str:
    """The key under which `link` is compared with other orders' links; never raises."""
    text = link.strip()
    name = text.removeprefix("@")
    if _is_name(name) and (name != text or "." not in name):
        return "@" + name.lower()
    split = _split(text)
    if split is None:
        return text
    parts, port = split
    host = _canonical_host(parts.hostname or "")
    dropped = PLATFORM_TRACKING.get(host, frozenset())
    pairs = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking(key.lower(), dropped)
    ]
    default_port = port is None or port in WEB_PORTS
    shape = SHAPES.get(host)
    if shape is not None and default_port:
        segments = [unquote(segment) for segment in parts.path.split("/") if segment]
        key = shape(segments, pairs)
        if key is not None:
            return key
    netloc = host if default_port else f"{host}:{port}"
    key = netloc + parts.path.rstrip("/") + _query(pairs)
    if parts.fragment.startswith(("/", "!")):
        key += "#" + parts.fragment
    return key


def _split(text: str) -> tuple[SplitResult, int | None] | None:
    """`text` as a web link and its port, or None when it is not one."""
    scheme, separator, _ = text.partition("://")
    has_scheme = bool(separator) and bool(scheme) and set(scheme) <= SCHEME_CHARS
    if has_scheme and scheme.lower() not in WEB_SCHEMES:
        return None
    try:
        parts = urlsplit(text if has_scheme else "//" + text.removeprefix("//"))
        port = parts.port  # ValueError on a port that is not one
    except ValueError:
        return None
    host = parts.hostname or ""
    if "@" in parts.netloc or "." not in host.strip("."):
        return None
    if not all(char.isalnum() or char in "-._" for char in host):
        return None
    return parts, port


def _canonical_host(host: str) -> str:
    host = host.rstrip(".")
    for prefix in HOST_PREFIXES:
        if host.startswith(prefix) and "." in host[len(prefix) :]:
            host = host[len(prefix) :]
            break
    return HOST_ALIASES.get(host, host)


def _is_tracking(key: str, platform_tracking: frozenset[str]) -> bool:
    return key.startswith("utm_") or key in TRACKING or key in platform_tracking


def _query(pairs: Pairs) -> str:
    return "?" + urlencode(sorted(pairs)) if pairs else ""


def _is_name(text: str) -> bool:
    return bool(text) and all(char.isalnum() or char in "_.-" for char in text)


def _is_account(text: str, host: str) -> bool:
    return _is_name(text) and text.lower() not in NOT_ACCOUNTS[host]


def _is_account_page(rest: list[str], host: str) -> bool:
    """Whether what follows an account in a path leaves its page: nothing, or one of its tabs."""
    return len(rest) <= 1 and set(rest) <= ACCOUNT_TABS[host]


def _is_id(text: str) -> bool:
    return bool(text) and set(text) <= ID_CHARS


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _instagram(segments: list[str], pairs: Pairs) -> str | None:
    match segments:
        case [kind, code] if kind in INSTAGRAM_MEDIA and _is_id(code):
            return f"instagram.com/p/{code}"
        case [user, kind, code] if (
            kind in INSTAGRAM_MEDIA and _is_account(user, "instagram.com") and _is_id(code)
        ):
            return f"instagram.com/p/{code}"
        case ["stories", user, story] if _is_name(user) and _is_number(story):
            return f"instagram.com/stories/{user.lower()}/{story}"
        case [user, *rest] if _is_account(user, "instagram.com") and _is_account_page(
            rest, "instagram.com"
        ):
            return f"instagram.com/{user.lower()}"
    return None


def _youtube(segments: list[str], pairs: Pairs) -> str | None:
    match segments:
        case ["watch"]:
            return _youtube_video(dict(pairs).get("v", ""))
        case ["shorts" | "embed" | "live" | "v", video]:
            return _youtube_video(video)
        case [handle, *rest] if (
            handle.startswith("@")
            and _is_name(handle[1:])
            and _is_account_page(rest, "youtube.com")
        ):
            return f"youtube.com/{handle.lower()}"
        case ["channel", channel, *rest] if _is_id(channel) and _is_account_page(
            rest, "youtube.com"
        ):
            return f"youtube.com/channel/{channel}"
    return None


def _youtu_be(segments: list[str], pairs: Pairs) -> str | None:
    match segments:
        case [video]:
            return _youtube_video(video)
    return None


def _youtube_video(video: str) -> str | None:
    return f"youtube.com/watch?v={video}" if len(video) == 11 and _is_id(video) else None


def _x(segments: list[str], pairs: Pairs) -> str | None:
    match segments:
        case (
            [_, "status" | "statuses", post]
            | [_, "status", post, "photo" | "video", _]
            | ["i", "web", "status", post]
        ) if _is_number(post):
            return f"x.com/i/status/{post}"
        case [user, *rest] if _is_account(user, "x.com") and _is_account_page(rest, "x.com"):
            return f"x.com/{user.lower()}"
    return None


def _tiktok(segments: list[str], pairs: Pairs) -> str | None:
    match segments:
        case [user] if user.startswith("@") and _is_name(user[1:]):
            return f"tiktok.com/{user.lower()}"
        case [user, "video" | "photo" as kind, post] if (
            user.startswith("@") and _is_name(user[1:]) and _is_number(post)
        ):
            return f"tiktok.com/{user.lower()}/{kind}/{post}"
    return None


def _telegram(segments: list[str], pairs: Pairs) -> str | None:
    if segments[:1] == ["s"]:  # t.me/s/name: the web preview of the same channel
        segments = segments[1:]
    match segments:
        case [name] if _is_name(name):
            return f"t.me/{name.lower()}{_query(pairs)}"
        case [name, post] if _is_name(name) and _is_number(post):
            return f"t.me/{name.lower()}/{post}{_query(pairs)}"
    return None


SHAPES: dict[str, Callable[[list[str], Pairs], str | None]] = {
    "instagram.com": _instagram,
    "youtube.com": _youtube,
    "youtu.be": _youtu_be,
    "x.com": _x,
    "tiktok.com": _tiktok,
    "t.me": _telegram,
}
