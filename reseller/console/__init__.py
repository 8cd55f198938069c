"""The operator web console: its own aiohttp app on its own listener (`admin:`), signed-in
operators only, every page reading through the same domain functions as the CLI."""
