"""Local development and the run command: the defaults of base.py as they are."""

from labelplatform.settings.base import *  # noqa: F403
