"""Tools for developing aiotao; never imported by the library."""
