"""Tests of the adapters: store, hub client, Slack rendering and messenger, web, ops, config."""
