"""The service types of DESIGN.md §1.1 (their `add` rules are in `order_rules`)."""

from __future__ import annotations

SERVICE_TYPES: tuple[str, ...] = (
    "Default",
    "Package",
    "SEO",
    "Custom Comments",
    "Custom Comments Package",
    "Mentions",
    "Mentions with Hashtags",
    "Mentions Custom List",
    "Mentions Hashtag",
    "Mentions User Followers",
    "Mentions Media Likers",
    "Comment Likes",
    "Comment Replies",
    "Poll",
    "Invites from Groups",
    "Subscriptions",
    "Web Traffic",
)
