"""The catalogs: the file that seeds an empty store, entries written through TMF620/TMF633, the catalog in use."""
