"""Audio feedback: the synthesiser (no Qt) and its QtMultimedia output (`qt_output`)."""

from probe_nav.audio.feedback import AudioFeedback
from probe_nav.audio.settings import MODES, AudioSettings

__all__ = ["MODES", "AudioFeedback", "AudioSettings"]
