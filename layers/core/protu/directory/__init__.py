"""The company's people data: job roles, teams, employees, candidates, assessments and their responses.

``kinds`` declares each kind (its schemas, references, filters and sensitive fields) once; ``service`` does the
reads and writes for any kind, always within the caller's company and always with an audit event in the same
transaction; ``store`` is the storage underneath. ``protu.http.directory`` turns the kinds into routes.
"""
