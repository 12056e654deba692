"""Beacon advert parsing (iBeacon, AltBeacon, Eddystone) and Eddystone-EID identity resolution."""

from devices.beacons.adverts import Advert
from devices.beacons.frames import BeaconFrame, decode_advert, decode_raw, parse_manufacturer, parse_service

__all__ = ["Advert", "BeaconFrame", "decode_advert", "decode_raw", "parse_manufacturer", "parse_service"]
