"""Channel adapters: the doors through which clients write and read."""
