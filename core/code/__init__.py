"""Code items: Python solutions with tests, critiqued with their execution feedback and revised until they pass."""
