"""Store ports (one sub-package per port) and the embedded-engine helpers they share."""
