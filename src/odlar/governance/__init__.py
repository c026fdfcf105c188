"""Model lifecycle and controls every task gets: roles, audit log, approval, documentation,
checks, personal-data protection."""
