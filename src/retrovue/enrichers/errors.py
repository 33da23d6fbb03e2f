"""Typed errors of the enrichers.

Two kinds.  ``EnrichmentError`` is one asset's failure: its ``code`` is stored with the asset (the
asset stays ``new`` with the error recorded), so the codes are stable words, not sentences.  The
others are run-level: the enricher cannot be found, loaded or started, and nothing was enriched.
"""

from __future__ import annotations

from retrovue.errors import RetrovueError

# -- per-asset failure codes (stored; never rename one) -------------------------------------------

#: the file cannot be read: missing, a directory, permission denied, I/O error, cut short
UNREADABLE = "UNREADABLE"
#: the file reads, but holds no media FFmpeg recognises (empty, random bytes, text, no A/V stream)
NOT_MEDIA = "NOT_MEDIA"
#: the enricher needs audio and the file has no audio stream
NO_AUDIO = "NO_AUDIO"
#: the enricher ran past the per-file timeout (its worker was killed), or decoded slower than a
#: file's duration allows (``enrichers/bounds.py``)
TIMEOUT = "TIMEOUT"
#: the worker process died while enriching this file (a crash in a demuxer, os.abort in a plugin)
CRASHED = "CRASHED"
#: the enricher raised something other than an EnrichmentError, or returned unstorable data
PLUGIN_ERROR = "PLUGIN_ERROR"
#: the header declares a duration out of range, or more than the file's bytes can carry (a sparse
#: or cut-short file, a corrupt header); see ``enrichers/bounds.py``
IMPLAUSIBLE_DURATION = "IMPLAUSIBLE_DURATION"
#: the file plays more than a second less than its header declares: cut short after an intact
#: header (an interrupted copy or download); see ``enrichers/playable.py``
TRUNCATED = "TRUNCATED"


class EnrichmentError(RetrovueError):
    """One asset could not be enriched; ``code`` says why in one stable word."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        # per instance, unlike the other errors: the code is the failure's kind, stored per asset
        self.code = code

    def __reduce__(self):
        # pickled across the worker pipe; the default would call __init__ with the message only
        return (type(self), (self.code, self.message))


# -- run-level errors -----------------------------------------------------------------------------


class DuplicateEnricherTypeError(RetrovueError):
    code = "DUPLICATE_ENRICHER_TYPE"


class UnknownEnricherTypeError(RetrovueError):
    code = "UNKNOWN_ENRICHER_TYPE"


class EnricherUnavailableError(RetrovueError):
    """A type that is stored or asked for but no loaded, compliant enricher provides."""

    code = "ENRICHER_UNAVAILABLE"


class EnricherParamsError(RetrovueError):
    code = "ENRICHER_PARAMS_INVALID"


class EnricherStartError(RetrovueError):
    """The enricher could not be constructed in a worker process, so no file can be enriched."""

    code = "ENRICHER_START_FAILED"
