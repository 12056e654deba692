"""Operating an installed device: health checks (doctor), releases (install, upgrade, rollback), sd_notify."""
