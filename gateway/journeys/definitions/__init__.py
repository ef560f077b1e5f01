"""The one-thing (一件事) journeys, one module each. Each is data: see gateway/journeys/model.py.

``JOURNEYS`` are those the tracker follows. A journey whose steps wait on an event no contract declares yet is
defined but not followed (the tracker refuses unknown events at start-up); ``AWAITING_CONTRACTS`` names them."""

from gateway.journeys.definitions.address_change import ADDRESS_CHANGE
from gateway.journeys.definitions.after_death import AFTER_DEATH
from gateway.journeys.definitions.assistance_application import ASSISTANCE_APPLICATION
from gateway.journeys.definitions.marriage_change import DIVORCE, MARRIAGE
from gateway.journeys.definitions.turning_80 import TURNING_80
from gateway.journeys.model import Journey

JOURNEYS: tuple[Journey, ...] = (AFTER_DEATH, ASSISTANCE_APPLICATION, ADDRESS_CHANGE, MARRIAGE, DIVORCE, TURNING_80)
AWAITING_CONTRACTS: tuple[Journey, ...] = ()
