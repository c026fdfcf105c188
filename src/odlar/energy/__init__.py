"""Energy sector (oil and gas): tasks register themselves on import."""

from odlar.energy import cmapss  # noqa: F401  (registers the `cmapss` download)
from odlar.energy.faults import task as faults_task  # noqa: F401  (registers energy.faults)
from odlar.energy.production import task as production_task  # noqa: F401  (energy.production)
from odlar.energy.rul import task  # noqa: F401  (registers energy.rul)
