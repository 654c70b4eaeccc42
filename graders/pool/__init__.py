"""Hidden checks for the `pool` exercise."""
