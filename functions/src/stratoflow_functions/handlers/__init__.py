"""Lambda entry points: one thin adapter module per function (event in, service, result)."""
