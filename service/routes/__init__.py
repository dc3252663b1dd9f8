"""One router per resource of the lookup API."""
