"""The catalog file: read and checked once, then seeded into the store the catalog APIs serve."""
