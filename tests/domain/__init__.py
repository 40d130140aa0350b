"""Tests of bot/domain: the pure rules, each with a fixed ``now``."""
