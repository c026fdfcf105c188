"""Process-fault detection (groundwork for task `energy.faults`, issue 3): not registered yet."""
