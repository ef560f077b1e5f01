"""The one-thing (一件事) journeys, one module each. Each is data: see gateway/journeys/model.py."""

from gateway.journeys.definitions.after_death import AFTER_DEATH
from gateway.journeys.definitions.assistance_application import ASSISTANCE_APPLICATION
from gateway.journeys.model import Journey

JOURNEYS: tuple[Journey, ...] = (AFTER_DEATH, ASSISTANCE_APPLICATION)
