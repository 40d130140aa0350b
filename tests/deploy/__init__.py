"""Tests of the deploy artifacts (deploy/) and the docs that describe them."""
