"""HTTP API (FastAPI): wiring only; domain logic lives in core and the sector packages."""
