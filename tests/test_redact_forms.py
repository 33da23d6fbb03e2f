"""Secrets are masked in each form a media server's key travels in, even when the value was
never registered (issue 23: Jellyfin/Emby's ``api_key=`` query form and header forms)."""

from __future__ import annotations

import pytest

from retrovue.redact import REDACTED, Redactor

KEY = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"GET http://jf:8096/Items?ParentId=1&api_key={KEY}&Limit=5", "&Limit=5"),
        (f"GET http://jf:8096/Items?ApiKey={KEY}", "http://jf:8096/Items?ApiKey="),
        (f'Authorization: MediaBrowser Token="{KEY}"', "Authorization: MediaBrowser "),
        (
            f'X-Emby-Authorization: MediaBrowser Client="rv", Device="x", Token="{KEY}", Version="1"',
            'Version="1"',
        ),
        (f"X-Emby-Token: {KEY}", "X-Emby-Token: "),
        (f"x-mediabrowser-token:{KEY}", "x-mediabrowser-token:"),
        (f"http://emby:8096/emby/Items?X-Emby-Token={KEY}", "/emby/Items?"),
        (f"headers={{'X-Emby-Token': '{KEY}'}}", "X-Emby-Token"),
    ],
)
def test_unregistered_keys_are_masked_in_every_form(text, kept):
    scrubbed = Redactor().scrub(text)
    assert KEY not in scrubbed and REDACTED in scrubbed and kept in scrubbed


def test_plain_text_is_left_alone():
    text = 'library "Token Ring" at /data/api/keys, Authorization failed'
    assert Redactor().scrub(text) == text
