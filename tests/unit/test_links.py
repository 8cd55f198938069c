"""The link rule by example: which links name the same target (one key, so a second order
waits) and which must not be merged (distinct keys, so nobody waits for another target)."""

from __future__ import annotations

import pytest

from reseller.orders.links import link_key

SAME = [
    # every web link
    ("https://example.com/page", "example.com/page", "scheme-less"),
    ("http://example.com/page", "https://example.com/page", "http-and-https"),
    ("HTTPS://Example.COM/page", "example.com/page", "scheme-and-host-case"),
    ("https://www.example.com/page", "example.com/page", "www"),
    ("https://m.example.com/page", "example.com/page", "m-dot"),
    ("https://example.com/page/", "example.com/page", "trailing-slash"),
    ("https://example.com/", "example.com", "root-slash"),
    ("https://example.com:443/page", "example.com/page", "https-default-port"),
    ("http://example.com:80/page", "example.com/page", "http-default-port"),
    ("example.com:443/page", "http://example.com/page", "web-ports-whatever-the-scheme"),
    ("https://example.com/page#comments", "example.com/page", "fragment"),
    ("  example.com/page \n", "example.com/page", "surrounding-whitespace"),
    ("example.com/page?utm_source=x&utm_medium=y", "example.com/page", "utm"),
    ("example.com/page?fbclid=abc&gclid=def", "example.com/page", "click-ids"),
    ("example.com/p?b=2&a=1", "example.com/p?a=1&b=2", "other-params-sorted"),
    ("example.com/p?a=1&utm_campaign=z", "example.com/p?a=1", "tracking-among-others"),
    ("example.com.", "example.com", "host-trailing-dot"),
    # Instagram
    ("https://www.instagram.com/NatGeo/", "instagram.com/natgeo", "ig-profile-case"),
    ("instagram.com/natgeo/?hl=en", "instagram.com/natgeo", "ig-profile-hl"),
    ("instagram.com/natgeo/reels/", "instagram.com/natgeo", "ig-profile-reels-tab"),
    ("instagram.com/natgeo/tagged", "instagram.com/natgeo", "ig-profile-tagged-tab"),
    ("instagram.com/natgeo?igsh=MWx1", "instagram.com/natgeo", "ig-profile-igsh"),
    ("https://instagr.am/natgeo", "instagram.com/natgeo", "ig-instagr-am"),
    ("m.instagram.com/natgeo", "instagram.com/natgeo", "ig-mobile-host"),
    ("instagram.com/p/CxYz_1-a/?igshid=abc", "instagram.com/p/CxYz_1-a", "ig-post-igshid"),
    ("instagram.com/p/CxYz/?img_index=2", "instagram.com/p/CxYz", "ig-carousel-index"),
    ("instagram.com/reel/CxYz/", "instagram.com/p/CxYz", "ig-reel-is-its-post"),
    ("instagram.com/reels/CxYz", "instagram.com/reel/CxYz", "ig-reels-plural"),
    ("instagram.com/tv/CxYz", "instagram.com/p/CxYz", "ig-tv"),
    ("instagram.com/NatGeo/p/CxYz/", "instagram.com/p/CxYz", "ig-post-under-user"),
    ("instagram.com/stories/NatGeo/3141/", "instagram.com/stories/natgeo/3141", "ig-story"),
    # YouTube
    ("youtu.be/dQw4w9WgXcQ", "youtube.com/watch?v=dQw4w9WgXcQ", "yt-short-host"),
    ("youtube.com/shorts/dQw4w9WgXcQ", "youtu.be/dQw4w9WgXcQ", "yt-shorts"),
    ("youtube.com/embed/dQw4w9WgXcQ", "youtu.be/dQw4w9WgXcQ", "yt-embed"),
    ("youtube.com/live/dQw4w9WgXcQ", "youtu.be/dQw4w9WgXcQ", "yt-live"),
    ("youtube-nocookie.com/embed/dQw4w9WgXcQ", "youtu.be/dQw4w9WgXcQ", "yt-nocookie"),
    ("m.youtube.com/watch?v=dQw4w9WgXcQ", "youtu.be/dQw4w9WgXcQ", "yt-mobile"),
    ("youtu.be/dQw4w9WgXcQ?si=Ab12&t=42", "youtu.be/dQw4w9WgXcQ", "yt-si-and-time"),
    (
        "youtube.com/watch?list=PL9&v=dQw4w9WgXcQ&index=3&t=1m",
        "youtu.be/dQw4w9WgXcQ",
        "yt-playlist-position",
    ),
    ("youtube.com/shorts/dQw4w9WgXcQ?feature=share", "youtu.be/dQw4w9WgXcQ", "yt-feature"),
    ("youtube.com/@MrBeast", "youtube.com/@mrbeast", "yt-handle-case"),
    ("youtube.com/@MrBeast/videos", "youtube.com/@mrbeast", "yt-handle-tab"),
    ("youtube.com/channel/UCabc/videos", "youtube.com/channel/UCabc", "yt-channel-tab"),
    ("youtube.com/playlist?list=PL9&si=x", "youtube.com/playlist?list=PL9", "yt-playlist-si"),
    # X / Twitter
    ("twitter.com/Jack", "x.com/jack", "x-alias-and-case"),
    ("mobile.twitter.com/jack", "x.com/jack", "x-mobile"),
    ("x.com/jack/media", "x.com/jack", "x-profile-tab"),
    ("x.com/jack/status/20?s=20&t=AbC", "x.com/jack/status/20", "x-share-params"),
    ("x.com/Someone/status/20", "x.com/jack/status/20", "x-post-is-its-id"),
    ("twitter.com/i/web/status/20", "x.com/jack/status/20", "x-web-status"),
    ("x.com/jack/status/20/photo/1", "x.com/jack/status/20", "x-post-photo"),
    # TikTok
    ("tiktok.com/@Charli", "www.tiktok.com/@charli", "tt-profile-case"),
    (
        "tiktok.com/@Charli/video/7212?is_from_webapp=1&sender_device=pc",
        "tiktok.com/@charli/video/7212",
        "tt-video-share-params",
    ),
    ("m.tiktok.com/@charli/video/7212", "tiktok.com/@charli/video/7212", "tt-mobile"),
    ("vm.tiktok.com/ZMabc/?_r=1", "https://vm.tiktok.com/ZMabc/", "tt-short-link-params"),
    # Telegram
    ("t.me/DurovChannel", "telegram.me/durovchannel", "tg-alias-and-case"),
    ("t.me/s/durovchannel", "t.me/durovchannel", "tg-web-preview"),
    ("t.me/DurovChannel/42/", "t.me/durovchannel/42", "tg-post"),
    ("telegram.dog/durov", "t.me/durov", "tg-dog"),
    # Facebook and others
    ("fb.com/zuck", "facebook.com/zuck", "fb-alias"),
    ("m.facebook.com/zuck?mibextid=ZbWKwL", "facebook.com/zuck", "fb-mibextid"),
    ("web.facebook.com/zuck", "facebook.com/zuck", "fb-web-host"),
    ("open.spotify.com/track/4u7E?si=abc", "open.spotify.com/track/4u7E", "spotify-si"),
    # bare usernames
    ("@NatGeo", "natgeo", "username-at-and-case"),
    ("NatGeo", "@natgeo", "username-case"),
    ("@nat.geo", "@Nat.Geo", "username-with-dot"),
]

DISTINCT = [
    # every web link
    ("example.com/page", "example.com/other", "different-paths"),
    ("example.com/Page", "example.com/page", "generic-path-case"),
    ("example.com/p?id=1", "example.com/p?id=2", "meaningful-param"),
    ("example.com/p?ref=a", "example.com/p?ref=b", "ref-kept-off-platform"),
    ("example.com:8080/page", "example.com/page", "other-port"),
    ("example.com/#/a", "example.com/#/b", "hash-routes"),
    ("shop.example.com", "example.com", "subdomain"),
    # Instagram
    ("instagram.com/natgeo", "instagram.com/p/CxYz", "ig-profile-vs-post"),
    ("instagram.com/p/CxYz", "instagram.com/p/Cxyz", "ig-shortcode-case"),
    ("instagram.com/p/CxYz", "instagram.com/reel/DaBc", "ig-post-vs-other-reel"),
    ("instagram.com/natgeo", "instagram.com/natgeo/reel/CxYz", "ig-profile-vs-its-reel"),
    ("instagram.com/p/CxYz", "instagram.com/p/CxYz/c/1789", "ig-post-vs-comment"),
    ("instagram.com/natgeo", "instagram.com/stories/natgeo/3141", "ig-profile-vs-story"),
    ("instagram.com/natgeo", "instagram.com/natgeo/followers", "ig-unknown-tab"),
    ("instagram.com/explore/tags/Cats", "instagram.com/explore/tags/cats", "ig-tag-page"),
    # YouTube
    ("youtu.be/dQw4w9WgXcQ", "youtu.be/dQw4w9WgXcq", "yt-video-id-case"),
    ("youtube.com/@mrbeast", "youtube.com/@mrbeast/live", "yt-channel-vs-its-live"),
    ("youtube.com/playlist?list=PL1", "youtube.com/playlist?list=PL2", "yt-playlists"),
    ("youtube.com/channel/UCabc", "youtube.com/channel/UCABC", "yt-channel-id-case"),
    ("youtube.com/c/MrBeast", "youtube.com/c/mrbeast", "yt-legacy-custom-url"),
    ("youtube.com/@mrbeast", "@mrbeast", "yt-handle-vs-bare-username"),
    ("music.youtube.com/watch?v=dQw4w9WgXcQ", "youtu.be/dQw4w9WgXcQ", "yt-music"),
    # X / Twitter
    ("x.com/jack", "x.com/jack/status/20", "x-profile-vs-post"),
    ("x.com/jack", "x.com/jack/followers", "x-unknown-tab"),
    ("x.com/home?lang=en", "x.com/home?lang=fr", "x-page-not-an-account"),
    ("x.com/search?q=Cats", "x.com/search?q=dogs", "x-search"),
    ("x.com/jack/status/20", "x.com/jack/status/21", "x-posts"),
    ("example.com/?t=1", "example.com/?t=2", "t-kept-off-x"),
    # TikTok
    ("tiktok.com/@charli", "tiktok.com/@charli/video/7212", "tt-profile-vs-video"),
    ("tiktok.com/@a/video/7212", "tiktok.com/@b/video/7212", "tt-video-user-kept"),
    ("vm.tiktok.com/ZMabc", "vm.tiktok.com/ZMABC", "tt-short-link-case"),
    ("vm.tiktok.com/ZMabc", "tiktok.com/@charli/video/7212", "tt-short-link-unresolved"),
    # Telegram
    ("t.me/durov", "t.me/durov/42", "tg-channel-vs-post"),
    ("t.me/durov/42", "t.me/durov/42?comment=7", "tg-post-vs-comment"),
    ("t.me/+AbCd", "t.me/+abcd", "tg-invite-case"),
    ("t.me/+AbCd", "t.me/joinchat/AbCd", "tg-invite-forms"),
    ("t.me/somebot?start=a", "t.me/somebot?start=b", "tg-bot-start"),
    # Facebook
    ("facebook.com/profile.php?id=1", "facebook.com/profile.php?id=2", "fb-profile-ids"),
    ("facebook.com/Zuck", "facebook.com/zuck", "fb-path-case-kept"),
    # bare usernames and other platforms
    ("@natgeo", "instagram.com/natgeo", "username-vs-profile-url"),
    ("@natgeo", "@natgeo2", "usernames"),
    ("nat.geo", "@nat.geo", "dotted-word-is-a-host"),
    ("instagram.com/natgeo", "tiktok.com/@natgeo", "platforms"),
]

JUNK = [
    ("", "", "empty"),
    ("   ", "", "blank"),
    (" not a link ", "not a link", "words"),
    ("http://", "http://", "scheme-only"),
    ("ftp://example.com/file", "ftp://example.com/file", "other-scheme"),
    ("tg://resolve?domain=Durov", "tg://resolve?domain=Durov", "app-scheme"),
    ("mailto:a@example.com", "mailto:a@example.com", "mailto"),
    ("https://exa mple.com/x", "https://exa mple.com/x", "space-in-host"),
    ("http://[::1", "http://[::1", "broken-ipv6"),
    ("example.com:99999/x", "example.com:99999/x", "port-out-of-range"),
    ("example.com:port/x", "example.com:port/x", "port-not-a-number"),
    ("https://user:pw@example.com/", "https://user:pw@example.com/", "credentials"),
    ("localhost:8080/x", "localhost:8080/x", "dotless-host"),
    ("???", "???", "punctuation"),
]


def _ids(table: list[tuple[str, str, str]]) -> list[str]:
    return [name for *_, name in table]


def _pairs(table: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    return [(first, second) for first, second, _ in table]


@pytest.mark.parametrize(("first", "second"), _pairs(SAME), ids=_ids(SAME))
def test_links_to_the_same_target_share_a_key(first: str, second: str) -> None:
    assert link_key(first) == link_key(second)


@pytest.mark.parametrize(("first", "second"), _pairs(DISTINCT), ids=_ids(DISTINCT))
def test_links_to_different_targets_keep_distinct_keys(first: str, second: str) -> None:
    assert link_key(first) != link_key(second)


@pytest.mark.parametrize(("junk", "key"), _pairs(JUNK), ids=_ids(JUNK))
def test_what_is_not_a_web_link_is_compared_by_its_trimmed_text(junk: str, key: str) -> None:
    assert link_key(junk) == key


@pytest.mark.parametrize(
    ("link", "key"),
    [
        ("https://www.instagram.com/reel/CxYz/?igsh=1", "instagram.com/p/CxYz"),
        ("https://youtu.be/dQw4w9WgXcQ?t=42", "youtube.com/watch?v=dQw4w9WgXcQ"),
        ("https://twitter.com/Jack/status/20?s=20", "x.com/i/status/20"),
        ("https://t.me/s/Durov/42?single", "t.me/durov/42?single="),
        ("https://www.example.com:443/a/?b=2&a=1#top", "example.com/a?a=1&b=2"),
        ("@NatGeo", "@natgeo"),
    ],
    ids=["instagram-reel", "youtube-video", "x-post", "telegram-post", "any-link", "username"],
)
def test_a_key_reads_as_the_target_it_names(link: str, key: str) -> None:
    assert link_key(link) == key


@pytest.mark.parametrize(
    "link",
    sorted(
        {
            link
            for table in (SAME, DISTINCT, JUNK)
            for first, second, _ in table
            for link in (first, second)
        }
    ),
)
def test_a_key_is_its_own_key(link: str) -> None:
    assert link_key(link_key(link)) == link_key(link)
