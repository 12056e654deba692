"""Device integrations: scanners, barcodes, beacons."""
