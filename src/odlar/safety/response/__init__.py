"""Where to station crews (`safety.response`): siting with spopt and dispatch simulation."""
