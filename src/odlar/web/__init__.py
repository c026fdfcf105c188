"""The web console (issue 7): pages, templates and static assets."""
