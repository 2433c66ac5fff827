"""The `ganret` command (`cli`) and what it runs: fitting a model on a folder (`model`), indexing
and querying (`search`), the HTML gallery (`gallery`). Imports every layer below; none imports it."""
