"""The pure core: no I/O, no clock reads, no Slack, HTTP or SQL."""
