"""The `critic` command line."""
