"""Tests of the use cases (bot/app) on a scripted hub, the Slack stand-in and a test database."""
