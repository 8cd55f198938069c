"""The service types of DESIGN.md §1.1 and the `add` fields each one takes."""

from __future__ import annotations

# type → the fields its `add` takes besides `service` (validation lives with the order rules).
SERVICE_TYPES: dict[str, tuple[str, ...]] = {
    "Default": ("link", "quantity", "runs", "interval"),
    "Package": ("link",),
    "SEO": ("link", "quantity", "keywords"),
    "Custom Comments": ("link", "comments"),
    "Custom Comments Package": ("link", "comments"),
    "Mentions": ("link", "quantity", "usernames"),
    "Mentions with Hashtags": ("link", "quantity", "usernames", "hashtags"),
    "Mentions Custom List": ("link", "usernames"),
    "Mentions Hashtag": ("link", "quantity", "hashtag"),
    "Mentions User Followers": ("link", "quantity", "username"),
    "Mentions Media Likers": ("link", "quantity", "media"),
    "Comment Likes": ("link", "quantity", "username"),
    "Comment Replies": ("link", "username", "comments"),
    "Poll": ("link", "quantity", "answer_number"),
    "Invites from Groups": ("link", "quantity", "groups"),
    "Subscriptions": ("username", "min", "max", "posts", "old_posts", "delay", "expiry"),
    "Web Traffic": (
        "link",
        "quantity",
        "runs",
        "interval",
        "country",
        "device",
        "type_of_traffic",
        "google_keyword",
        "referring_url",
    ),
}
