"""Sector-agnostic core: settings, store, task contract and registry, jobs, tracking, bench."""
