"""The energy sector's declaration (read through the `odlar.sectors` entry point)."""

from odlar.core.sectors import NavEntry, Sector

SECTOR = Sector(
    name="energy",
    title="Energy",
    tasks=(
        "odlar.energy.cmapss",
        "odlar.energy.rul.task",
        "odlar.energy.faults.task",
        "odlar.energy.production.task",
    ),
    cli="odlar.energy.cli:app",
    api="odlar.energy.api:router",
    web="odlar.energy.web:router",
    nav=(
        NavEntry("Energy: fleet RUL", "/ui/energy/rul", "read"),
        NavEntry("Energy: alerts", "/ui/energy/alerts", "read"),
        NavEntry("Energy: production", "/ui/energy/production", "read"),
    ),
    templates="odlar.energy:templates",
    moved=(
        ("odlar.energy.rul.models", "odlar.energy.rul.regressors"),
        ("odlar.energy.faults.model", "odlar.energy.faults.fault_model"),
        ("odlar.energy.production.models", "odlar.energy.production.forecasters"),
    ),
)
