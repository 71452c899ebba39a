"""The SQLite write path: writers queue first come, first served and a process's saves share transactions."""
