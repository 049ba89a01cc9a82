"""Sensors: new or changed sources, takedown requests, drift."""
