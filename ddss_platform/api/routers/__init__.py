"""One router per resource; ``ddss_platform.api.app`` mounts them."""
