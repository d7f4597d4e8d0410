"""User-facing errors: the CLI prints their message as one line and exits non-zero."""


class RppgError(Exception):
    """A problem with the user's input or environment, phrased as what is wrong and what to do."""


class VideoError(RppgError):
    """The video is missing, unreadable, corrupt or empty."""


class NoFaceError(RppgError):
    """No face was found in (enough of) the video."""


class TooShortError(RppgError):
    """The signal is too short for the requested analysis."""
