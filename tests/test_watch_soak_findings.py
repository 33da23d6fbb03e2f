"""Issue 21: what benchmarks/watch_soak.py found wrong in `retrovue watch`.

- A reconcile that ends unreachable (a Plex server down) is tried again with a growing delay,
  as a failed one is.  With the Plex server stopped, the watch re-listed it every
second for as long as it was down (the retry it had scheduled was forgotten before the next one
was scheduled, so each delay started again at 1 s).  A real CLI subprocess on both backends;
the count is over a window far from both answers (4 attempts with the backoff, ~10 without).
- A reconcile of two sources said each source's counts as the sum of both (`watch-start of
  source "Plex": ok, assets +3400` for a Plex of 400 items beside a NAS of 3000 files).
"""

from __future__ import annotations

import signal
import time

import yaml

from tests.helpers import make_tree
from tests.watch_helpers import WatchProcess

WINDOW = 10.0


def _config(path, plex, local):
    doc = {
        "version": 1,
        "sources": [
            {
                "name": "Plex",
                "type": "plex",
                "config": {"base_url": plex.url, "token": plex.token},
                "collections": [
                    {
                        "name": "Movies",
                        "sync": True,
                        "path_mappings": [{"plex_path": "/data/Movies", "local_path": str(local)}],
                    }
                ],
            }
        ],
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _attempts(watching: WatchProcess) -> int:
    return sum(1 for line in watching.lines if 'source "Plex": unreachable' in line)


def test_an_unreachable_plex_is_retried_with_a_growing_delay(tmp_path, db_url, fake_plex):
    section = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    fake_plex.add_movie(section, "Heat", year=1995)
    local = tmp_path / "Movies"
    local.mkdir()
    config = _config(tmp_path / "retrovue.yaml", fake_plex, local)
    watching = WatchProcess(config, db_url)
    try:
        watching.wait_for(lambda: watching.said('watch-start of source "Plex": ok'), "the start")
        fake_plex.stop()
        watching.proc.send_signal(signal.SIGHUP)  # a reconcile of everything, now
        watching.wait_for(lambda: _attempts(watching) >= 1, "the first unreachable reconcile")
        time.sleep(WINDOW)
        # retried after 1, 2 and 4 s: three retries in the window (the next one is at 15 s)
        assert 2 <= _attempts(watching) <= 5, watching.err
        assert watching.proc.poll() is None
    finally:
        watching.kill()


def test_each_sources_note_counts_its_own_assets(tmp_path, db_url):
    doc = {
        "version": 1,
        "sources": [
            {
                "name": name,
                "type": "filesystem",
                "config": {"base_path": str(make_tree(tmp_path / name, {"movies": files}))},
                "collections": [{"name": "movies", "sync": True}],
            }
            for name, files in (
                ("Small", [f"A {i} (2000).mkv" for i in range(3)]),
                ("Large", [f"B {i} (2000).mkv" for i in range(5)]),
            )
        ],
    }
    config = tmp_path / "retrovue.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    watching = WatchProcess(config, db_url)
    try:
        for name in ("Small", "Large"):
            watching.wait_for(lambda n=name: watching.said(f'watch-start of source "{n}"'), name)
        assert watching.said('watch-start of source "Small": ok, assets +3 ~0 -0'), watching.err
        assert watching.said('watch-start of source "Large": ok, assets +5 ~0 -0'), watching.err
    finally:
        watching.kill()
