"""The bottom layer: run directories, seeds and records (`runs`), the input-keyed cache (`cache`),
the device (`device`) and the one training loop (`loop`). Imports nothing else of ganret_lib."""
