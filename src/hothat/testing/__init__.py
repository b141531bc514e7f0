"""Test and simulation kit: a pytest plugin for plugin authors and harnesses."""
