"""Revenue assurance and fraud rules: checks over usage, inventory and bills that raise TMF642 alarms,
TMF621 tickets and, when configured, TMF622 suspension orders (``tmfgate assure``)."""
