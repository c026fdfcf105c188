"""The smallest odlar sector (docs/extending.md): a meter-level task, `odlar tiny hello`,
GET /api/v1/tiny/hello and the console page /ui/tiny."""
